import { Composer, InlineKeyboard } from 'grammy'
import type { CommandContext } from 'grammy'
import { agentName } from '../../agents/roster.ts'
import { AGENT_NAME } from '../../domain/names.ts'
import type { AgentListing } from '../../services/agents.ts'
import { buttonCodec } from '../callback-data.ts'
import type { Context } from '../context.ts'
import { placeOf } from '../people.ts'

const composer = new Composer<Context>()

/** A switch button carries the agent's name: `ag:use:<name>`. */
export const agentButtons = buttonCodec<{ use: string }>('ag', {
  encode: ({ use }) => ['use', use],
  decode: ([verb, name, ...rest]) => (verb === 'use' && name !== undefined && AGENT_NAME.test(name) && rest.length === 0 ? { use: name } : undefined),
})

/** The agent list and its switch buttons, the active one marked. Pure, for tests. */
export function agentList(agents: readonly AgentListing[], active: string): { text: string; keyboard: InlineKeyboard } {
  const keyboard = new InlineKeyboard()
  const lines = agents.map((a) => {
    const marks = [a.name === active ? '(active)' : '', a.builtIn ? '' : `· ${a.model ?? 'default model'}`].filter(Boolean).join(' ')
    return `${a.name === active ? '▶' : '•'} ${a.name}${marks ? ` ${marks}` : ''} — ${a.description}`
  })
  agents.forEach((a, i) => {
    keyboard.text(a.name === active ? `✓ ${a.name}` : a.name, agentButtons.encode({ use: a.name }))
    if (i % 3 === 2) keyboard.row()
  })
  return {
    text: ['Agents in this chat. Tap one to talk to it, or address one message with @name.', '', ...lines, '', 'Make your own with /newagent.'].join('\n'),
    keyboard,
  }
}

/** Makes `name` the chat's agent; the sentence that says how it went. */
async function switchTo(ctx: Context, name: string): Promise<{ ok: boolean; text: string }> {
  const agent = await ctx.services.chats.switchAgent(placeOf(ctx), name)
  if (!agent) return { ok: false, text: `There is no agent called ${name}. /agents lists them.` }
  ctx.log.info({ agent: agent.name }, 'active agent switched')
  return { ok: true, text: `You are now talking to ${agent.name}: ${agent.description}` }
}

const listFor = async (ctx: Context) => agentList(await ctx.services.agents.list(), await ctx.services.chats.activeAgent(placeOf(ctx)))

export async function agents(ctx: CommandContext<Context>): Promise<void> {
  const { text, keyboard } = await listFor(ctx)
  await ctx.reply(text, { reply_markup: keyboard })
}

export async function agent(ctx: CommandContext<Context>): Promise<void> {
  const name = agentName(ctx.match)
  if (!name) return void (await ctx.reply(`You are talking to ${await ctx.services.chats.activeAgent(placeOf(ctx))}. Switch with /agent <name>; /agents lists them.`))
  await ctx.reply((await switchTo(ctx, name)).text)
}

composer.on('callback_query:data').filter(
  (ctx) => agentButtons.owns(ctx.callbackQuery.data),
  async (ctx) => {
    const data = agentButtons.decode(ctx.callbackQuery.data)
    if (!data) return void (await ctx.answerCallbackQuery({ text: 'This button no longer works. Send /agents for a fresh list.', show_alert: true }))
    const result = await switchTo(ctx, data.use)
    await ctx.answerCallbackQuery({ text: result.text.slice(0, 200), show_alert: !result.ok })
    if (!result.ok) return
    const { text, keyboard } = await listFor(ctx)
    await ctx.editMessageText(text, { reply_markup: keyboard }).catch((err: unknown) => ctx.log.debug({ err }, 'agent list unchanged'))
  },
)

export { composer as agentsFeature }
