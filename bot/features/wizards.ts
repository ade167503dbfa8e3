import { conversations, createConversation } from '@grammyjs/conversations'
import type { Conversation } from '@grammyjs/conversations'
import { Composer, InlineKeyboard } from 'grammy'
import type { Context as InnerContext } from 'grammy'
import type { ConversationData, VersionedStateStorage } from '@grammyjs/conversations'
import type { CommandContext } from 'grammy'
import { agentName } from '../../agents/roster.ts'
import { AGENT_NAME } from '../../domain/names.ts'
import { mayChange } from '../../services/agents.ts'
import type { AgentDraft, AgentListing } from '../../services/agents.ts'
import { buttonCodec } from '../callback-data.ts'
import type { Context } from '../context.ts'
import { bold, code, html, quote } from '../format/html.ts'
import type { Html } from '../format/html.ts'
import { splitHtml } from '../format/split.ts'
import { personOf } from '../people.ts'

/** The wizards' conversations: the outside context has our services, the inside one is grammY's own. */
type Wizard = Conversation<Context, InnerContext>

/** Bump when a wizard's steps change: a replay log of the old steps must not drive the new ones. */
const WIZARD_VERSION = 1
/** A wizard left alone this long is over: the next message is an ordinary one, not its answer. */
const WIZARD_IDLE_MS = 30 * 60_000

const CHOICES = ['keep', 'default', 'none', 'yes', 'no'] as const
/** A wizard step's buttons carry only the choice: `wz:keep`, `wz:default`, `wz:none`, `wz:yes`, `wz:no`. */
export const wizardButtons = buttonCodec<(typeof CHOICES)[number]>('wz', {
  encode: (choice) => [choice],
  decode: ([choice, ...rest]) => (rest.length === 0 ? CHOICES.find((c) => c === choice) : undefined),
})
const KEEP = wizardButtons.encode('keep')
const DEFAULT_MODEL = wizardButtons.encode('default')
const NO_TOOLS = wizardButtons.encode('none')
const YES = wizardButtons.encode('yes')
const NO = wizardButtons.encode('no')

type Parsed<T> = { ok: true; value: T } | { ok: false; why: string }
const ok = <T>(value: T): Parsed<T> => ({ ok: true, value })
const no = (why: string): Parsed<never> => ({ ok: false, why })

// Each step's rules: pure, for tests. `why` is the re-ask a person sees.
export const NAME_RULE = AGENT_NAME
export function parseName(text: string, taken: (name: string) => boolean): Parsed<string> {
  const name = agentName(text)
  if (!NAME_RULE.test(name)) return no('A name is 2 to 32 characters: lowercase letters, digits, - or _, starting with a letter. Try another.')
  if (taken(name)) return no(`There is already an agent called ${name}. Pick another name.`)
  return ok(name)
}
export function parseDescription(text: string): Parsed<string> {
  const d = text.trim()
  return d.length >= 3 && d.length <= 200 ? ok(d) : no('The description is one line of 3 to 200 characters. Try again.')
}
export function parsePrompt(text: string): Parsed<string> {
  const p = text.trim()
  return p.length >= 10 && p.length <= 4000 ? ok(p) : no('The instructions need 10 to 4000 characters. Try again.')
}
export function parseModel(text: string): Parsed<string> {
  const m = text.trim()
  return /^[A-Za-z0-9][A-Za-z0-9._:/-]{0,99}$/.test(m) ? ok(m) : no('That does not look like a model name (for example openai/gpt-4o-mini). Try again, or tap "Default model".')
}
/**
 * The tools a person chose: names separated by commas or spaces, matched without regard to case but
 * kept in their own case; an MCP server's name stands for all of its tools (`server__tool`).
 */
export function parseTools(text: string, known: readonly string[]): Parsed<string[]> {
  const t = text.trim()
  if (t.toLowerCase() === 'none' || t === '-') return ok([])
  const words = [...new Set(t.split(/[\s,]+/).filter(Boolean))]
  const byLower = new Map(known.map((n) => [n.toLowerCase(), n]))
  const unknown: string[] = []
  const chosen = words.flatMap((w) => {
    const tool = byLower.get(w.toLowerCase())
    if (tool) return [tool]
    const ofServer = known.filter((n) => n.toLowerCase().startsWith(`${w.toLowerCase()}__`))
    if (ofServer.length) return ofServer
    unknown.push(w)
    return []
  })
  if (words.length === 0 || unknown.length) return no(`I do not know ${unknown.join(', ') || 'those tools'}. Choose from: ${toolChoices(known) || 'none available'}, or send "none".`)
  return ok([...new Set(chosen)])
}

/** The tools on offer, the built-in ones by name and each MCP server's grouped: "memory_recall, …; github: create_issue, …". */
export function toolChoices(known: readonly string[]): string {
  const servers = new Map<string, string[]>()
  const plain: string[] = []
  for (const name of known) {
    const at = name.indexOf('__')
    if (at < 0) plain.push(name)
    else servers.set(name.slice(0, at), [...(servers.get(name.slice(0, at)) ?? []), name.slice(at + 2)])
  }
  return [plain.join(', '), ...[...servers].map(([server, tools]) => `${server} (all, or ${server}__tool): ${tools.join(', ')}`)].filter(Boolean).join('; ')
}

/** An agent as the confirmation shows it, in Telegram HTML: the name in bold, model and tools as code, the instructions quoted. Pure, for tests. */
export function describeAgent(a: AgentDraft): Html {
  const tools = a.tools.length ? a.tools.map((t, i) => html`${i ? ', ' : ''}${code(t)}`) : 'none'
  return html`Name: ${bold(a.name)}
Description: ${a.description}
Model: ${a.model ? code(a.model) : 'the default model'}
Tools: ${tools}
Instructions:
${quote(a.systemPrompt)}`
}

/** Leaves the wizard: /cancel (always), or a press of a wizard's Cancel. */
async function leave(conversation: Wizard, ctx: InnerContext, what: string): Promise<never> {
  await ctx.reply(`${what} cancelled. Nothing was changed.`)
  return conversation.halt()
}

/**
 * Waits for the person's answer to a step: a text that `parse` accepts, or a press of one of the
 * step's buttons (returned as its data). Another command passes through to its handler while the
 * wizard keeps waiting; /cancel leaves the wizard.
 */
async function ask<T>(conversation: Wizard, what: string, parse: (text: string) => Parsed<T> | Promise<Parsed<T>>, buttons: readonly string[] = []): Promise<T | string> {
  for (;;) {
    const ctx = await conversation.wait({ maxMilliseconds: WIZARD_IDLE_MS })
    const text = ctx.message?.text
    if (text !== undefined && /^\/cancel(@\w+)?(\s|$)/.test(text)) return leave(conversation, ctx, what)
    if (text?.startsWith('/')) return conversation.skip({ next: true })
    const data = ctx.callbackQuery?.data
    if (data !== undefined) {
      if (!buttons.includes(data)) return conversation.skip({ next: true }) // another message's button
      await ctx.answerCallbackQuery()
      await ctx.editMessageReplyMarkup({ reply_markup: undefined }).catch(() => undefined)
      if (data === NO) return leave(conversation, ctx, what)
      return data
    }
    if (text === undefined) {
      await ctx.reply('Please answer with a text message, or send /cancel to stop.')
      continue
    }
    const parsed = await parse(text)
    if (parsed.ok) return parsed.value
    await ctx.reply(parsed.why)
  }
}

const keyboard = (...buttons: Array<[string, string]>) => {
  const k = new InlineKeyboard()
  for (const [label, data] of buttons) k.text(label, data)
  return k
}

type Draft = AgentDraft

/**
 * The steps after the name, for a new agent and for an edit: with `current`, each step can keep
 * its value (a Keep button, or "."), so an edit changes only what the person wants.
 */
async function defineSteps(conversation: Wizard, ctx: InnerContext, what: string, name: string, toolNames: string[], current?: Draft): Promise<Draft> {
  const keep = current ? ([['Keep', KEEP]] as Array<[string, string]>) : []
  const kept = <T>(answer: T | string, old: T | undefined): T => (answer === KEEP || answer === '.' ? (old as T) : (answer as T))
  const step = (n: number, text: string) => `Step ${n} of 5 (${name}). ${text}${current ? '\nTap Keep or send "." to keep it as it is.' : ''}`
  const keepOr = <T>(parse: (t: string) => Parsed<T>) => (t: string) => (current && t.trim() === '.' ? ok(KEEP as unknown as T) : parse(t))

  await ctx.reply(step(2, `Describe it in one line: what is it for?${current ? `\nNow: ${current.description}` : ''}`), { reply_markup: keyboard(...keep, ['Cancel', NO]) })
  const description = kept(await ask(conversation, what, keepOr(parseDescription), [KEEP, NO]), current?.description)

  await ctx.reply(step(3, `Its instructions (the system prompt): how should it behave?${current ? `\nNow: ${current.systemPrompt}` : ''}`), { reply_markup: keyboard(...keep, ['Cancel', NO]) })
  const systemPrompt = kept(await ask(conversation, what, keepOr(parsePrompt), [KEEP, NO]), current?.systemPrompt)

  await ctx.reply(step(4, `Which model? Send a model name (for example openai/gpt-4o-mini) or tap "Default model".${current ? `\nNow: ${current.model ?? 'the default model'}` : ''}`), {
    reply_markup: keyboard(['Default model', DEFAULT_MODEL], ...keep, ['Cancel', NO]),
  })
  const modelAnswer = await ask(conversation, what, keepOr(parseModel), [DEFAULT_MODEL, KEEP, NO])
  const model = modelAnswer === DEFAULT_MODEL ? undefined : modelAnswer === KEEP || modelAnswer === '.' ? current?.model : modelAnswer

  await ctx.reply(step(5, `Which tools may it use? Send their names separated by commas (an MCP server's name gives all its tools), or "none".\nAvailable: ${toolChoices(toolNames) || 'none'}${current ? `\nNow: ${current.tools.join(', ') || 'none'}` : ''}`), {
    reply_markup: keyboard(['No tools', NO_TOOLS], ...keep, ['Cancel', NO]),
  })
  const toolsAnswer = await ask(conversation, what, keepOr((t) => parseTools(t, toolNames)), [NO_TOOLS, KEEP, NO])
  const tools = toolsAnswer === NO_TOOLS ? [] : kept(toolsAnswer, current?.tools)

  return { name, description, systemPrompt, model, tools }
}

/** The confirmation step: returns when the person taps the confirming button (Cancel leaves). A long text is split; its last part has the buttons. */
async function confirm(conversation: Wizard, ctx: InnerContext, what: string, text: Html, yes: string): Promise<void> {
  const parts = splitHtml(text.html)
  for (const part of parts.slice(0, -1)) await ctx.reply(part, { parse_mode: 'HTML' })
  await ctx.reply(parts.at(-1) ?? '', { parse_mode: 'HTML', reply_markup: keyboard([yes, YES], ['Cancel', NO]) })
  await ask(conversation, what, () => no(`Tap "${yes}" or "Cancel" above, or send /cancel.`), [YES, NO])
}


async function newAgent(conversation: Wizard, ctx: InnerContext, _given?: string): Promise<void> {
  const what = 'Making an agent'
  const { names, toolNames } = await conversation.external(async (o: Context) => ({
    names: (await o.services.agents.list()).map((a) => a.name),
    toolNames: o.services.agents.toolNames(),
  }))
  await ctx.reply(`Let us make an agent. Send /cancel at any time to stop.\n\nStep 1 of 5. Its name: lowercase letters, digits, - or _ (people address it as @name).`)
  const name = await ask(conversation, what, (t) => parseName(t, (n) => names.includes(n)))
  const draft = await defineSteps(conversation, ctx, what, name, toolNames)
  await confirm(conversation, ctx, what, html`Create this agent?\n\n${describeAgent(draft)}`, 'Create')
  const created = await conversation.external((o: Context) => o.services.agents.create(draft, personOf(o), o.chat?.id))
  await ctx.reply(created ? `Created ${name}. Talk to it with @${name} at the start of a message, or make it this chat's agent with /agent ${name}.` : `Someone made an agent called ${name} meanwhile; nothing was changed. Start again with /newagent.`)
}

/** What a wizard keeps of an agent: plain data, as the replay log stores what `external` returns. */
type Picked = Pick<AgentListing, 'name' | 'description' | 'builtIn' | 'instructions' | 'ownModel' | 'toolNames'>
const picked = (a: AgentListing): Picked => ({ name: a.name, description: a.description, builtIn: a.builtIn, instructions: a.instructions, ownModel: a.ownModel, toolNames: a.toolNames })

/** Finds the agent a person may change, asking for its name when the command had none. */
async function pickAgent(conversation: Wizard, ctx: InnerContext, what: string, given: string): Promise<Picked> {
  let name = agentName(given)
  if (!name) {
    await ctx.reply('Which agent? Send its name (/agents lists them), or /cancel.')
    name = String(await ask(conversation, what, (t) => ok(agentName(t))))
  }
  for (;;) {
    const found = await conversation.external(async (o: Context) => {
      const agent = await o.services.agents.get(name)
      return { agent: agent && picked(agent), allowed: mayChange(agent, o.from?.id ?? 0, o.isAdmin) }
    })
    if (found.agent && found.allowed) return found.agent
    const why = !found.agent
      ? `There is no agent called ${name}.`
      : found.agent.builtIn
        ? `${name} is built in and cannot be changed.`
        : `Only ${name}'s owner or an admin can change it.`
    await ctx.reply(`${why} Send another name, or /cancel.`)
    name = String(await ask(conversation, what, (t) => ok(agentName(t))))
  }
}

async function editAgent(conversation: Wizard, ctx: InnerContext, given: string): Promise<void> {
  const what = 'Editing'
  const agent = await pickAgent(conversation, ctx, what, given)
  const toolNames = await conversation.external((o: Context) => o.services.agents.toolNames())
  const current: Draft = { name: agent.name, description: agent.description, systemPrompt: agent.instructions, model: agent.ownModel, tools: agent.toolNames }
  const draft = await defineSteps(conversation, ctx, what, agent.name, toolNames, current)
  await confirm(conversation, ctx, what, html`Save ${bold(agent.name)} like this?\n\n${describeAgent(draft)}`, 'Save')
  const saved = await conversation.external((o: Context) => o.services.agents.update(draft, personOf(o), o.chat?.id))
  await ctx.reply(saved ? `Saved ${agent.name}.` : `${agent.name} was deleted meanwhile; nothing was saved.`)
}

async function removeAgent(conversation: Wizard, ctx: InnerContext, given: string): Promise<void> {
  const what = 'Deleting'
  const agent = await pickAgent(conversation, ctx, what, given)
  await confirm(conversation, ctx, what, html`Delete ${bold(agent.name)} (${agent.description})? Chats talking to it go back to the default agent.`, 'Delete')
  const deleted = await conversation.external((o: Context) => o.services.agents.remove(agent.name, personOf(o), o.chat?.id))
  await ctx.reply(deleted ? `Deleted ${agent.name}.` : `${agent.name} was already gone.`)
}

/** The wizards' storage: Postgres in the service (a restart keeps a wizard in progress). */
export type WizardStorage = VersionedStateStorage<string, ConversationData>

/**
 * The wizards, with their state in `storage` (one per chat and person), so a restart or a redeploy
 * in the middle of one keeps it. Install after auth, before the other features; the commands that
 * start them are in the command table (`startWizard`).
 */
export function wizardsFeature(storage: WizardStorage) {
  const composer = new Composer<Context>()
  composer.use(
    conversations<Context, InnerContext>({
      storage: {
        type: 'key',
        version: WIZARD_VERSION,
        prefix: 'wizard:',
        getStorageKey: (ctx) => (ctx.chat && ctx.from ? `${ctx.chat.id}:${ctx.from.id}` : undefined),
        adapter: storage,
      },
    }),
  )
  composer.use(createConversation(newAgent, 'newagent'))
  composer.use(createConversation(editAgent, 'editagent'))
  composer.use(createConversation(removeAgent, 'deleteagent'))
  return composer
}

/** A wizard's command: a wizard command in the middle of another wizard starts over. */
export const startWizard = (name: 'newagent' | 'editagent' | 'deleteagent') => async (ctx: CommandContext<Context>) => {
  await ctx.conversation.exitAll()
  await ctx.conversation.enter(name, ctx.match)
}
