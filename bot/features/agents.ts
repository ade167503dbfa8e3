import { Composer, InlineKeyboard } from 'grammy'
import type { CommandContext } from 'grammy'
import { agentName } from '../../agents/roster.ts'
import { AGENT_NAME } from '../../domain/names.ts'
import type { AgentListing } from '../../services/agents.ts'
import { buttonCodec } from '../callback-data.ts'
import type { Context } from '../context.ts'
import { bold, code, html, htmlToPlain } from '../format/html.ts'
import type { Html } from '../format/html.ts'
import { placeOf } from '../people.ts'

const composer = new Composer<Context>()
const HTML = { parse_mode: 'HTML' } as const

/** A switch button carries the agent's name: `ag:use:<name>`. */
export const agentButtons = buttonCodec<{ use: string }>('ag', {
  encode: ({ use }) => ['use', use],
  decode: ([verb, name, ...rest]) => (verb === 'use' && name !== undefined && AGENT_NAME.test(name) && rest.length === 0 ? { use: name } : undefined),
})

/** One agent in the list: its name in bold, the active one marked, a user-defined one's model as code. */
function agentLine(a: AgentListing, active: string): Html {
  const mark = a.name === active ? ' (active)' : ''
  const model = a.builtIn ? '' : html` · ${a.model ? code(a.model) : 'default model'}`
  return html`${a.name === active ? '▶' : '•'} ${bold(a.name)}${mark}${model} — ${a.description}`
}

/** The agent list as Telegram HTML and its switch buttons, the active one marked. Pure, for tests. */
export function agentList(agents: readonly AgentListing[], active: string): { text: Html; keyboard: InlineKeyboard } {
  const keyboard = new InlineKeyboard()
  agents.forEach((a, i) => {
    keyboard.text(a.name === active ? `✓ ${a.name}` : a.name, agentButtons.encode({ use: a.name }))
    if (i % 3 === 2) keyboard.row()
  })
  const lines = agents.map((a) => html`\n${agentLine(a, active)}`)
  return {
    text: html`Agents in this chat. Tap one to talk to it, or address one message with @name.\n${lines}\n\nMake your own with /newagent.`,
    keyboard,
  }
}

/** Makes `name` the chat's agent; the sentence (Telegram HTML) that says how it went. */
async function switchTo(ctx: Context, name: string): Promise<{ ok: boolean; text: Html }> {
  const agent = await ctx.services.chats.switchAgent(placeOf(ctx), name)
  if (!agent) return { ok: false, text: html`There is no agent called ${bold(name)}. /agents lists them.` }
  ctx.log.info({ agent: agent.name }, 'active agent switched')
  return { ok: true, text: html`You are now talking to ${bold(agent.name)}: ${agent.description}` }
}

const listFor = async (ctx: Context) => agentList(await ctx.services.agents.list(), await ctx.services.chats.activeAgent(placeOf(ctx)))

/** /agents: the list, with a button per agent. */
export async function agents(ctx: CommandContext<Context>): Promise<void> {
  const { text, keyboard } = await listFor(ctx)
  await ctx.reply(text.html, { ...HTML, reply_markup: keyboard })
}

/** /agent <name>: switches this chat's agent; without a name, says which one it is. */
export async function agent(ctx: CommandContext<Context>): Promise<void> {
  const name = agentName(ctx.match)
  if (!name) return void (await ctx.reply(html`You are talking to ${bold(await ctx.services.chats.activeAgent(placeOf(ctx)))}. Switch with ${'/agent <name>'}; /agents lists them.`.html, HTML))
  await ctx.reply((await switchTo(ctx, name)).text.html, HTML)
}

composer.on('callback_query:data').filter(
  (ctx) => agentButtons.owns(ctx.callbackQuery.data),
  async (ctx) => {
    const data = agentButtons.decode(ctx.callbackQuery.data)
    if (!data) return void (await ctx.answerCallbackQuery({ text: 'This button no longer works. Send /agents for a fresh list.', show_alert: true }))
    const result = await switchTo(ctx, data.use)
    await ctx.answerCallbackQuery({ text: htmlToPlain(result.text.html).slice(0, 200), show_alert: !result.ok })
    if (!result.ok) return
    const { text, keyboard } = await listFor(ctx)
    await ctx.editMessageText(text.html, { ...HTML, reply_markup: keyboard }).catch((err: unknown) => ctx.log.debug({ err }, 'agent list unchanged'))
  },
)

export { composer as agentsFeature }
