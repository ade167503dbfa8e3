import { describe, expect, test } from 'vitest'
import { cachedFor } from '../../cached.ts'
import { commandName, isCommandForBot, textForBot } from '../../bot/addressed.ts'
import { parseUserId, userLine } from '../../bot/features/admin.ts'
import { agentList } from '../../bot/features/agents.ts'
import { statusText } from '../../bot/features/status.ts'
import { usageText } from '../../bot/features/usage.ts'
import { describeAgent, parseDescription, parseModel, parseName, parsePrompt, parseTools } from '../../bot/features/wizards.ts'
import type { AgentListing } from '../../agents/directory.ts'
import { addressedAgent, agentName } from '../../agents/roster.ts'
import { parseTelegramHtml } from '../support/telegram-html.ts'
import type { TelegramEntity } from '../support/telegram-html.ts'

/** What Telegram shows for our HTML, failing the test when Telegram would refuse it or drop part of it. */
function shown(html: { html: string }): { text: string; entities: TelegramEntity[] } {
  const parsed = parseTelegramHtml(html.html, { strict: true })
  if ('error' in parsed) throw new Error(`${parsed.error}\nin: ${html.html}`)
  return parsed
}
/** The parts of the shown text that carry an entity of `type`. */
const marked = (html: { html: string }, type: string) => {
  const s = shown(html)
  return s.entities.filter((e) => e.type === type).map((e) => s.text.slice(e.offset, e.offset + e.length))
}

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
    // MCP tools keep their case; a server's name stands for all its tools.
    const withMcp = [...known, 'GitHub__createIssue', 'GitHub__listRepos', 'fs__read_file']
    expect(parseTools('github__CREATEISSUE', withMcp)).toEqual({ ok: true, value: ['GitHub__createIssue'] })
    expect(parseTools('GitHub, recall', withMcp)).toEqual({ ok: true, value: ['GitHub__createIssue', 'GitHub__listRepos', 'recall'] })
    expect(whyNot(parseTools('gitlab', withMcp))).toMatch(/GitHub \(all, or GitHub__tool\): createIssue, listRepos; fs \(all, or fs__tool\): read_file/)
    expect(whyNot(parseTools('recall, telepathy', known))).toMatch(/^I do not know telepathy\./)
  })

  test('the confirmation shows the agent: name in bold, model and tools as code, the instructions quoted and escaped', () => {
    const draft = { name: 'poet', description: 'writes <em>poems</em> & "songs"', systemPrompt: 'Never output <script>alert(1)</script> & stay "calm".', model: 'openai/gpt-4o-mini', tools: ['recall', 'remember'] }
    const text = describeAgent(draft)
    expect(text.html).toBe(
      'Name: <b>poet</b>\nDescription: writes &lt;em&gt;poems&lt;/em&gt; &amp; &quot;songs&quot;\nModel: <code>openai/gpt-4o-mini</code>\nTools: <code>recall</code>, <code>remember</code>\n' +
        'Instructions:\n<blockquote>Never output &lt;script&gt;alert(1)&lt;/script&gt; &amp; stay &quot;calm&quot;.</blockquote>',
    )
    expect(shown(text).text).toBe(`Name: poet\nDescription: ${draft.description}\nModel: openai/gpt-4o-mini\nTools: recall, remember\nInstructions:\n${draft.systemPrompt}`)
    expect(marked(text, 'blockquote')).toEqual([draft.systemPrompt])
    expect(shown(describeAgent({ ...draft, model: undefined, tools: [] })).text).toMatch(/\nModel: the default model\nTools: none\n/)
  })
})

describe('admin and usage texts', () => {
  test('/allow and /deny take a positive numeric id only', () => {
    expect(parseUserId(' 123456789 ')).toBe(123456789)
    for (const bad of ['', 'abc', '-5', '0', '12 34', '1'.repeat(16)]) expect(parseUserId(bad)).toBeUndefined()
  })

  test('/users says where access comes from: the id as code, the access in bold', () => {
    const env = { admins: new Set([1]), allowed: new Set([2]) }
    const user = (telegramId: number, extra: object = {}) => ({ telegramId, role: 'user' as const, allowed: false, denied: false, username: undefined, firstName: 'Ann', lastSeenAt: undefined, ...extra })
    const line = (...args: Parameters<typeof userLine>) => shown(userLine(...args)).text
    expect(userLine(user(1), env).html).toBe('<code>1</code> · Ann · <b>admin</b>')
    expect(line(user(2), env)).toBe('2 · Ann · allowed (env)')
    expect(line(user(2, { denied: true }), env)).toBe('2 · Ann · denied')
    expect(line(user(3, { allowed: true, username: 'ann' }), env)).toBe('3 · Ann @ann · allowed')
    expect(line(user(4, { firstName: undefined }), env)).toBe('4 · never wrote · not allowed')
    expect(line(user(5, { lastSeenAt: new Date('2026-11-20T10:00:00Z') }), env)).toBe('5 · Ann · not allowed · seen 2026-11-20 10:00')
    const odd = userLine(user(6, { firstName: '<b>Eve</b> & "co"' }), env)
    expect(odd.html).toBe('<code>6</code> · &lt;b&gt;Eve&lt;/b&gt; &amp; &quot;co&quot; · <b>not allowed</b>')
    expect(shown(odd).text).toBe('6 · <b>Eve</b> & "co" · not allowed')
  })

  test("/usage: spend today, this month and in 30 days in bold, models as code; everyone's names the person and lists tasks", () => {
    const line = { today: 0, month: 0, last30: 0, unknownCalls: 0 }
    const lines = [
      { userId: 5, agent: 'assistant', model: 'm1', calls: 2, inputTokens: 1000, outputTokens: 20, audioSeconds: 0, ...line, today: 0.01, month: 0.25, last30: 0.5 },
      { userId: 6, agent: 'coder', model: 'm2', calls: 1, inputTokens: 500, outputTokens: 5, audioSeconds: 0, ...line, unknownCalls: 1 },
    ]
    const report = { lines, tasks: [{ taskId: 'k3f9', usd: 0.0042, calls: 2, unknownCalls: 0 }], timeZone: 'Europe/Berlin' }
    const everyone = usageText(report, true)
    expect(shown(everyone).text).toBe(
      "Everyone's spend: today $0.01 · this month $0.25 · last 30 days $0.50 (days in Europe/Berlin).\n1,525 tokens (1,500 in, 25 out) in 3 model call(s).\n1 call(s) had no known price: they are not in these sums.\n\n" +
        '5 · assistant · m1: $0.50 (today $0.01, this month $0.25) · 1,000 in, 20 out, 2 call(s)\n6 · coder · m2: $0.00 (today $0.00, this month $0.00) · 500 in, 5 out, 1 call(s), 1 of unknown cost\n\nCoder tasks, last 30 days:\nk3f9: $0.0042 in 2 call(s)',
    )
    expect(marked(everyone, 'bold')).toEqual(['$0.01', '$0.25', '$0.50'])
    expect(shown(usageText({ ...report, lines: lines.slice(0, 1), tasks: undefined }, false)).text).toMatch(/^Your spend[\s\S]*\nassistant · m1: \$0\.50/)
    const voice = { userId: 5, agent: 'transcription', model: 'whisper-1', calls: 2, inputTokens: 0, outputTokens: 0, audioSeconds: 75.4, ...line }
    expect(shown(usageText({ ...report, lines: [voice] }, false)).text).toMatch(/\ntranscription · whisper-1: \$0\.00 \(today \$0\.00, this month \$0\.00\) · 0 in, 0 out, 2 call\(s\), 75 s of speech/)
    expect(marked(usageText({ ...report, tasks: undefined, lines: [{ ...voice, model: 'odd<model>&"x"' }] }, false), 'code')).toEqual(['odd<model>&"x"'])
    expect(usageText({ ...report, lines: [] }, false).html).toBe('You have not used a model in the last 30 days.')
    expect(usageText({ ...report, lines: [] }, true).html).toBe('Nobody has used a model in the last 30 days.')
  })

  test('/status: the commit and model as code, the health in bold', () => {
    const figures = {
      version: '1.2.3',
      commit: 'abcdef1234567890',
      uptimeSeconds: 90_061,
      database: { kind: 'embedded' as const, pingMs: 1.234 },
      inbox: { depth: 2, running: 1, oldestQueuedSeconds: 4.4, failedLastDay: 0 },
      dispatcher: { healthy: false, active: 3 },
      tasks: { queued: 1, running: 0, waiting: 2, completed: 5, failed: 1, cancelled: 0 },
      approvalsPending: 4,
      model: 'openai/<gpt>',
      modelFailuresLastHour: 1,
      schedules: { active: 3, paused: 1, failing: 0, next: new Date('2026-12-01T08:30:00Z') },
      workspace: { cloneBytes: 12_345_678, worktreeBytes: 2_500_000, worktrees: 2 },
      sandbox: { state: 'on' as const, bwrap: '/usr/bin/bwrap' },
    }
    const text = statusText(figures)
    expect(shown(text).text).toBe(
      'Mechanic 1.2.3 (abcdef123456)\nUptime: 1d 1h 1m\nDatabase: embedded, 1.2 ms\nInbox: 2 waiting (1 running), oldest 4 s\nFailed updates (24 h): 0\n' +
        'Dispatcher: NOT OK, 3 handler(s) active\nTasks: 1 queued, 0 running, 2 waiting for review, 1 failed in total\nApprovals pending: 4\n' +
        'Model: openai/<gpt>, 1 failed call(s) in the last hour\nSchedules: 3 active, 1 paused, 0 whose last firing failed; next at 2026-12-01 08:30 UTC\n' +
        'Workspace: clone 12.3 MB, 2 task worktree(s) 2.5 MB\nSandbox: on (bubblewrap)',
    )
    expect(shown(statusText({ ...figures, sandbox: { state: 'off' } })).text).toMatch(/\nSandbox: OFF: SANDBOX=off, so aider, test commands, MCP servers and the PDF reader run with this service's rights$/)
    expect(shown(statusText({ ...figures, sandbox: { state: 'unavailable', reason: 'bubblewrap (bwrap) is not installed' } })).text).toMatch(/\nSandbox: UNAVAILABLE: bubblewrap \(bwrap\) is not installed; aider, test commands, MCP servers and PDF reading are refused$/)
    expect(shown(statusText({ ...figures, workspace: undefined })).text).not.toMatch(/Workspace/)
    expect(marked(text, 'code')).toEqual(['abcdef123456', 'openai/<gpt>'])
    expect(marked(text, 'bold')).toEqual(['Mechanic 1.2.3', 'NOT OK', 'on'])
  })

  test('/agents marks the active agent, names in bold, a model as code, and gives each a button', () => {
    const agent = (name: string, builtIn: boolean, description = `${name} things`): AgentListing => ({ name, description, systemPrompt: '', builtIn, ownerId: undefined, toolNames: [], ownModel: undefined, instructions: '', model: 'm' })
    const { text, keyboard } = agentList([agent('assistant', true), agent('poet', false, 'writes <script> & "verse"')], 'poet')
    expect(shown(text).text).toMatch(/• assistant — assistant things\n▶ poet \(active\) · m — writes <script> & "verse"/)
    expect(text.html).toContain('▶ <b>poet</b> (active) · <code>m</code> — writes &lt;script&gt; &amp; &quot;verse&quot;')
    expect(marked(text, 'bold')).toEqual(['assistant', 'poet'])
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
