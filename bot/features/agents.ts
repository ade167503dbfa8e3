import { Composer, InlineKeyboard } from 'grammy'
import type { AgentListing } from '../../agents/directory.ts'
import { chatSession, setActiveAgent } from '../../db/chat-threads.ts'
import { agentName } from '../../agents/roster.ts'
import type { Context } from '../context.ts'
import { placeOf } from './chat.ts'

const composer = new Composer<Context>()

/** The agent list and its switch buttons, the active one marked. Pure, for tests. */
export function agentList(agents: readonly AgentListing[], active: string): { text: string; keyboard: InlineKeyboard } {
  const keyboard = new InlineKeyboard()
  const lines = agents.map((a) => {
    const marks = [a.name === active ? '(active)' : '', a.builtIn ? '' : `· ${a.model ?? 'default model'}`].filter(Boolean).join(' ')
    return `${a.name === active ? '▶' : '•'} ${a.name}${marks ? ` ${marks}` : ''} — ${a.description}`
  })
  agents.forEach((a, i) => {
    keyboard.text(a.name === active ? `✓ ${a.name}` : a.name, `ag:use:${a.name}`)
    if (i % 3 === 2) keyboard.row()
  })
  return {
    text: ['Agents in this chat. Tap one to talk to it, or address one message with @name.', '', ...lines, '', 'Make your own with /newagent.'].join('\n'),
    keyboard,
  }
}

async function activeOf(ctx: Context): Promise<string> {
  const session = await chatSession(ctx.services.db.pool, placeOf(ctx))
  const { agents } = ctx.services
  return session.activeAgent && (await agents.get(session.activeAgent)) ? session.activeAgent : agents.fallback
}

/** Makes `name` the chat's agent; the sentence that says how it went. */
async function switchTo(ctx: Context, name: string): Promise<{ ok: boolean; text: string }> {
  const agent = await ctx.services.agents.get(name)
  if (!agent) return { ok: false, text: `There is no agent called ${name}. /agents lists them.` }
  await setActiveAgent(ctx.services.db.pool, placeOf(ctx), agent.name === ctx.services.agents.fallback ? undefined : agent.name)
  ctx.log.info({ agent: agent.name }, 'active agent switched')
  return { ok: true, text: `You are now talking to ${agent.name}: ${agent.description}` }
}

composer.command('agents', async (ctx) => {
  const { text, keyboard } = agentList(await ctx.services.agents.list(), await activeOf(ctx))
  await ctx.reply(text, { reply_markup: keyboard })
})

composer.command('agent', async (ctx) => {
  const name = agentName(ctx.match)
  if (!name) return void (await ctx.reply(`You are talking to ${await activeOf(ctx)}. Switch with /agent <name>; /agents lists them.`))
  await ctx.reply((await switchTo(ctx, name)).text)
})

composer.callbackQuery(/^ag:use:([a-z][a-z0-9_-]{1,31})$/, async (ctx) => {
  const result = await switchTo(ctx, ctx.match[1] ?? '')
  await ctx.answerCallbackQuery({ text: result.text.slice(0, 200), show_alert: !result.ok })
  if (!result.ok) return
  const { text, keyboard } = agentList(await ctx.services.agents.list(), await activeOf(ctx))
  await ctx.editMessageText(text, { reply_markup: keyboard }).catch((err: unknown) => ctx.log.debug({ err }, 'agent list unchanged'))
})

export { composer as agentsFeature }
