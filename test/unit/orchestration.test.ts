import { describe, expect, test } from 'vitest'
import { cachedFor } from '../../cached.ts'
import { commandName, isCommandForBot, textForBot } from '../../bot/addressed.ts'
import { parseUserId, userLine } from '../../bot/features/admin.ts'
import { agentList } from '../../bot/features/agents.ts'
import { usageText } from '../../bot/features/usage.ts'
import { parseDescription, parseModel, parseName, parsePrompt, parseTools } from '../../bot/features/wizards.ts'
import type { AgentListing } from '../../agents/directory.ts'
import { addressedAgent, agentName } from '../../agents/roster.ts'

/** The re-ask of a refused answer ('' when it was accepted, which the caller's match then rejects). */
const whyNot = (parsed: { ok: true } | { ok: false; why: string }) => (parsed.ok ? '' : parsed.why)

const me = { id: 42, username: 'mechanic_bot' }
const group = { id: -1, type: 'group' as const, title: 'G' }
const message = (text: string, extra: object = {}) => ({ text, chat: group, ...extra })

describe('addressing', () => {
  test('@name at the start names an agent; elsewhere it does not', () => {
    expect(addressedAgent('@coder fix it')).toBe('coder')
    expect(addressedAgent('  @Poet the sea')).toBe('poet')
    expect(addressedAgent('ask @coder later')).toBeUndefined()
    expect(addressedAgent('@x')).toBeUndefined() // too short to be a name
  })

  test('in a group only a mention of the bot or a reply to it is for the bot; the mention is removed', () => {
    const mention = { type: 'mention' as const, offset: 6, length: 13 }
    expect(textForBot(message('hello @mechanic_bot how are you', { entities: [mention] }), me)).toBe('hello how are you')
    expect(textForBot(message('hello @other_bot', { entities: [{ type: 'mention', offset: 6, length: 10 }] }), me)).toBeUndefined()
    expect(textForBot(message('just people'), me)).toBeUndefined()
    expect(textForBot(message('yes', { reply_to_message: { from: { id: 42 } } }), me)).toBe('yes')
    expect(textForBot(message('yes', { reply_to_message: { from: { id: 7 } } }), me)).toBeUndefined()
    expect(textForBot({ text: 'anything', chat: { id: 1, type: 'private', first_name: 'A' } }, me)).toBe('anything')
  })

  test('names as people type them: an agent without @ and case, a command without slash and bot', () => {
    expect(agentName('  @Poet ')).toBe('poet')
    expect(commandName('/agent@mechanic_bot coder')).toBe('agent')
    expect(commandName('/users')).toBe('users')
    expect(commandName('no command')).toBe('')
  })

  test('commands: /cmd and /cmd@thisbot are ours, /cmd@otherbot is not', () => {
    const command = (text: string) => message(text, { entities: [{ type: 'bot_command', offset: 0, length: text.split(' ')[0]!.length }] })
    expect(isCommandForBot(command('/agents'), me)).toBe(true)
    expect(isCommandForBot(command('/agents@Mechanic_Bot'), me)).toBe(true)
    expect(isCommandForBot(command('/agents@other_bot'), me)).toBe(false)
    expect(isCommandForBot(message('/agents'), me)).toBe(false) // no entity: not a command
  })
})

describe('wizard steps', () => {
  test('names: lowercase, 2-32 characters, not taken; @ and case are forgiven', () => {
    expect(parseName('@Poet', () => false)).toEqual({ ok: true, value: 'poet' })
    expect(whyNot(parseName('poet', (n) => n === 'poet'))).toMatch(/already an agent called poet/)
    for (const bad of ['p', '1poet', 'po et', 'poet!', 'a'.repeat(33)]) expect(parseName(bad, () => false).ok).toBe(false)
  })

  test('description, instructions and model names have bounds', () => {
    expect(parseDescription('  writes poems  ')).toEqual({ ok: true, value: 'writes poems' })
    expect(parseDescription('x'.repeat(201)).ok).toBe(false)
    expect(parsePrompt('too short').ok).toBe(false)
    expect(parsePrompt('You write four-line poems.').ok).toBe(true)
    expect(parseModel('openai/gpt-4o-mini')).toEqual({ ok: true, value: 'openai/gpt-4o-mini' })
    expect(parseModel('anthropic/claude-3.5-sonnet:beta').ok).toBe(true)
    for (const bad of ['', 'two words', 'rm -rf', '/leading-slash']) expect(parseModel(bad).ok).toBe(false)
  })

  test('tools: known names, comma or space separated, or none', () => {
    const known = ['remember', 'recall', 'forget']
    expect(parseTools('recall, remember recall', known)).toEqual({ ok: true, value: ['recall', 'remember'] })
    expect(parseTools('none', known)).toEqual({ ok: true, value: [] })
    expect(whyNot(parseTools('recall, telepathy', known))).toMatch(/^I do not know telepathy\./)
  })
})

describe('admin and usage texts', () => {
  test('/allow and /deny take a positive numeric id only', () => {
    expect(parseUserId(' 123456789 ')).toBe(123456789)
    for (const bad of ['', 'abc', '-5', '0', '12 34', '1'.repeat(16)]) expect(parseUserId(bad)).toBeUndefined()
  })

  test('/users says where access comes from', () => {
    const env = { admins: new Set([1]), allowed: new Set([2]) }
    const user = (telegramId: number, extra: object = {}) => ({ telegramId, role: 'user' as const, allowed: false, denied: false, username: undefined, firstName: 'Ann', lastSeenAt: undefined, ...extra })
    expect(userLine(user(1), env)).toBe('1 · Ann · admin')
    expect(userLine(user(2), env)).toBe('2 · Ann · allowed (env)')
    expect(userLine(user(2, { denied: true }), env)).toBe('2 · Ann · denied')
    expect(userLine(user(3, { allowed: true, username: 'ann' }), env)).toBe('3 · Ann @ann · allowed')
    expect(userLine(user(4, { firstName: undefined }), env)).toBe('4 · never wrote · not allowed')
  })

  test('/usage totals its lines; everyone\'s names the person', () => {
    const lines = [
      { userId: 5, agent: 'assistant', model: 'm1', calls: 2, inputTokens: 1000, outputTokens: 20, audioSeconds: 0 },
      { userId: 6, agent: 'coder', model: 'm2', calls: 1, inputTokens: 500, outputTokens: 5, audioSeconds: 0 },
    ]
    expect(usageText(lines, true)).toBe(
      "Everyone's usage, last 30 days: 1,525 tokens (1,500 in, 25 out) in 3 model call(s).\n\n5 · assistant · m1: 1,000 in, 20 out, 2 call(s)\n6 · coder · m2: 500 in, 5 out, 1 call(s)",
    )
    expect(usageText(lines.slice(0, 1), false)).toMatch(/^Your usage[\s\S]*\nassistant · m1: 1,000 in/)
    const voice = { userId: 5, agent: 'transcription', model: 'whisper-1', calls: 2, inputTokens: 0, outputTokens: 0, audioSeconds: 75.4 }
    expect(usageText([voice], false)).toMatch(/\ntranscription · whisper-1: 0 in, 0 out, 2 call\(s\), 75 s of speech$/)
    expect(usageText([], false)).toBe('You have not used a model in the last 30 days.')
    expect(usageText([], true)).toBe('Nobody has used a model in the last 30 days.')
  })

  test('/agents marks the active agent and gives each a button', () => {
    const agent = (name: string, builtIn: boolean): AgentListing => ({ name, description: `${name} things`, systemPrompt: '', builtIn, ownerId: undefined, toolNames: [], ownModel: undefined, instructions: '', model: 'm' })
    const { text, keyboard } = agentList([agent('assistant', true), agent('poet', false)], 'poet')
    expect(text).toMatch(/• assistant — assistant things\n▶ poet \(active\) · m — poet things/)
    expect(keyboard.inline_keyboard.flat().map((b) => [b.text, 'callback_data' in b ? b.callback_data : ''])).toEqual([
      ['assistant', 'ag:use:assistant'],
      ['✓ poet', 'ag:use:poet'],
    ])
  })
})

describe('cachedFor', () => {
  test('callers within the time share one read; a failure is not kept; drop reads again', async () => {
    let reads = 0
    let fail = false
    const cache = cachedFor(60_000, () => {
      reads++
      return fail ? Promise.reject(new Error('down')) : Promise.resolve(reads)
    })
    expect(await Promise.all([cache.get(), cache.get()])).toEqual([1, 1])
    expect(reads).toBe(1)
    cache.drop()
    fail = true
    await expect(cache.get()).rejects.toThrow('down')
    fail = false
    expect(await cache.get()).toBe(3) // the failed read was not kept
    expect(await cache.get()).toBe(3)
  })
})
