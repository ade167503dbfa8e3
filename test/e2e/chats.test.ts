import pg from 'pg'
import { COMMANDS } from '../../bot/commands.ts'
import { afterEach, beforeEach, describe, expect, test } from 'vitest'
import { ADMIN_ID, Harness, USER_ID, WEBHOOK_SECRET } from '../support/harness.ts'
import type { MessageOptions } from '../support/harness.ts'
import { sleep, waitUntil } from '../support/http.ts'
import { lastUserText } from '../support/openai-emulator.ts'
import type { ServiceProcess } from '../support/service.ts'

let h: Harness
let service: ServiceProcess
beforeEach(async () => {
  h = await Harness.create()
})
afterEach(() => h.closeAndCheckLogs())

const GROUP = -500

const say = (text: string, opts: MessageOptions = {}) => h.say(service, text, opts)

/** Waits until the inbox has handled everything delivered so far. */
async function settled(): Promise<void> {
  await waitUntil(async () => {
    const { body } = await service.health()
    const inbox = (body.components as { inbox: { depth: number; running: number } }).inbox
    return inbox.depth === 0 && inbox.running === 0
  }, 'the inbox to drain')
}

describe('admin commands', () => {
  test('every admin command of the command table refuses others with "admins only" and an audit entry', async () => {
    service = await h.startService()
    const adminCommands = COMMANDS.filter((c) => c.scope === 'admins' || c.scope === 'coder-admins').map((c) => c.name)
    expect(adminCommands).toEqual(expect.arrayContaining(['users', 'allow', 'deny', 'model', 'status', 'approvals', 'repos']))
    // Arguments that would change something if the gate let them through.
    const args: Record<string, string> = { allow: ' 3001', deny: ' 2001', model: ' other-model', repos: ' add evil /tmp/evil' }
    for (const name of adminCommands) expect(await say(`/${name}${args[name] ?? ''}`)).toBe('That command is for admins only.')
    if (h.db.url) {
      const client = new pg.Client(h.db.url)
      await client.connect()
      const { rows } = await client.query<{ command: string }>(`select detail->>'command' as command from audit_log where action = 'admin_command_refused' and actor_id = $1 order by id`, [USER_ID])
      await client.end()
      expect(rows.map((r) => r.command)).toEqual(adminCommands)
    }
    // Nothing changed: 2001 is still served, 3001 still not, and the model is the same.
    expect(await say('still me', { userId: 2001 })).toBe('[assistant] echo: still me')
    expect(await say('hello', { userId: 3001 })).toMatch(/^Sorry, this bot is private/)
    expect(h.openai.requests.at(-1)?.model).toBe('test-model')
  })

  test('admins allow, deny, list people, set the default model and read the extended status', async () => {
    service = await h.startService({ COMMIT_SHA: 'abcdef1234567890' })
    const admin = { userId: ADMIN_ID }
    expect(await say('/allow 3001', admin)).toBe('3001 may now talk to me.')
    expect(await say('hi', { userId: 3001 })).toBe('[assistant] echo: hi')
    expect(await say('/deny 2001', admin)).toBe('2001 is denied from now on, even if ALLOWED_USER_IDS lists them.')
    expect(await say('hi', { userId: 2001 })).toMatch(/^Sorry, this bot is private/)
    expect(await say(`/deny ${ADMIN_ID}`, admin)).toMatch(/admins cannot be denied/)
    expect(await say('/allow twelve', admin)).toMatch(/^Send \/allow followed by the person's numeric Telegram id/)
    const users = await say('/users', admin)
    expect(users).toMatch(/^3001 · Tester @user3001 · allowed · seen /m)
    expect(users).toMatch(/^2001 · Tester @user2001 · denied · seen /m)
    expect(users).toMatch(new RegExp(`^${ADMIN_ID} · Tester @user${ADMIN_ID} · admin`, 'm'))

    expect(await say('/model', admin)).toBe('The default model is test-model. Change it with /model <name>.')
    expect(await say('/model bad model!', admin)).toMatch(/^That does not look like a model name/)
    expect(await say('/model better-model', admin)).toBe('The default model is now better-model (was test-model). Agents with a model of their own keep it.')
    await say('which model?', { userId: 3001 })
    expect(h.openai.requests.at(-1)?.model).toBe('better-model')

    h.openai.enqueue({ status: 400 }) // one failed model call to count
    expect(await say('this fails', { userId: 3001 })).toMatch(/refused the request/)
    const status = await say('/status', admin)
    expect(status).toMatch(/^Mechanic \d+\.\d+\.\d+ \(abcdef123456\)/)
    expect(status).toMatch(/Approvals pending: 0/)
    expect(status).toMatch(/Model: better-model, 1 failed call\(s\) in the last hour/)
  })
})

describe('groups', () => {
  test('the bot answers a group only when mentioned, replied to or commanded; each forum topic is its own conversation', async () => {
    service = await h.startService()
    await service.deliver(h.text('people talking among themselves', { chatId: GROUP }), WEBHOOK_SECRET)
    await service.deliver(h.text('/agents@some_other_bot', { chatId: GROUP }), WEBHOOK_SECRET)
    await service.deliver(h.text('a stranger talking', { chatId: GROUP, userId: 9999 }), WEBHOOK_SECRET)
    await settled()
    expect(h.telegram.sentTexts(GROUP)).toEqual([])
    expect(h.openai.requests).toHaveLength(0)

    expect(await say(`@${h.telegram.username} what is 2+2?`, { chatId: GROUP })).toBe('[assistant] echo: what is 2+2?')
    const answerId = (h.telegram.callsOf('sendMessage').findLast((c) => Number(c.params.chat_id) === GROUP)?.result as { message_id: number }).message_id
    expect(await say('and 3+3?', { chatId: GROUP, replyTo: answerId })).toBe('[assistant] echo: and 3+3?')
    expect(await say(`/agents@${h.telegram.username}`, { chatId: GROUP })).toMatch(/^Agents in this chat/)

    // Two topics of a forum: separate threads, and each answer goes to its topic.
    const forum = -600
    await say(`@${h.telegram.username} topic seven speaking`, { chatId: forum, topicId: 7 })
    await say(`@${h.telegram.username} topic eight speaking`, { chatId: forum, topicId: 8 })
    const eight = h.openai.requests.at(-1)!
    expect(eight.messages.filter((m) => m.role === 'user').map((m) => m.content)).toEqual(['topic eight speaking'])
    const sent = h.telegram.callsOf('sendMessage').filter((c) => Number(c.params.chat_id) === forum)
    expect(sent.map((c) => c.params.message_thread_id)).toEqual([7, 8])
  })
})

describe('streaming', () => {
  const long = 'Streaming shows the answer while the model writes it, piece by piece. '.repeat(4).trim()

  test('a private chat sees drafts that grow, then exactly one final message', async () => {
    service = await h.startService()
    h.openai.enqueue({ content: long, chunkDelayMs: 60 })
    expect(await say('tell me about streaming')).toBe(`[assistant] ${long}`)
    await sleep(600) // a late draft would show up here
    const drafts = h.telegram.callsOf('sendMessageDraft').filter((c) => Number(c.params.chat_id) === USER_ID)
    expect(drafts.length).toBeGreaterThanOrEqual(2)
    const texts = drafts.map((c) => String(c.params.text))
    texts.forEach((t, i) => i > 0 && expect(t.length).toBeGreaterThan(texts[i - 1]!.length))
    expect(texts.every((t) => `[assistant] ${long}`.startsWith(t))).toBe(true)
    expect(new Set(drafts.map((c) => c.params.draft_id)).size).toBe(1)
    const finalAt = h.telegram.callsOf('sendMessage').find((c) => Number(c.params.chat_id) === USER_ID)!.at
    expect(drafts.every((d) => d.at <= finalAt)).toBe(true)
    expect(h.telegram.sentTexts(USER_ID)).toEqual([`[assistant] ${long}`])
  })

  test('a group sees one preview message edited into the answer, never a second copy', async () => {
    service = await h.startService()
    h.openai.enqueue({ content: long, chunkDelayMs: 250 })
    await service.deliver(h.text(`@${h.telegram.username} stream here`, { chatId: GROUP }), WEBHOOK_SECRET)
    await settled()
    const sent = h.telegram.callsOf('sendMessage').filter((c) => Number(c.params.chat_id) === GROUP)
    expect(sent).toHaveLength(1) // the preview, which became the answer
    const previewId = (sent[0]!.result as { message_id: number }).message_id
    const edits = h.telegram.callsOf('editMessageText').filter((c) => c.params.message_id === previewId)
    expect(edits.length).toBeGreaterThanOrEqual(1)
    expect(String(edits.at(-1)!.params.text)).toBe(`[assistant] ${long}`)
    expect(h.telegram.callsOf('sendMessageDraft')).toHaveLength(0)
  })
})

describe('rate limiting and usage', () => {
  test('past the limit a person is told once, politely, and the extra messages cost no model call', async () => {
    service = await h.startService({ RATE_LIMIT_MESSAGES: '3', RATE_LIMIT_WINDOW_SECONDS: '60' })
    for (let i = 1; i <= 5; i++) await service.deliver(h.text(`message ${i}`), WEBHOOK_SECRET)
    await settled()
    const texts = h.telegram.sentTexts(USER_ID)
    expect(texts.filter((t) => t.startsWith('[assistant] echo:'))).toEqual(['[assistant] echo: message 1', '[assistant] echo: message 2', '[assistant] echo: message 3'])
    expect(texts.filter((t) => /faster than I can take them/.test(t))).toHaveLength(1)
    expect(h.openai.requests).toHaveLength(3)
    // Others are not limited by one person's pace, and admins are exempt.
    expect(await say('my turn', { userId: 2001 })).toBe('[assistant] echo: my turn')
    for (let i = 0; i < 4; i++) await say(`admin ${i}`, { userId: ADMIN_ID })
    expect(h.telegram.sentTexts(ADMIN_ID).filter((t) => t.startsWith('[assistant]'))).toHaveLength(4)
  })

  test('/usage shows the tokens the model reported: a person their own, an admin everyone', async () => {
    h.openai.prices.set('test-model', { prompt: 0, completion: 0 }) // free: the sums read $0.00, and the tokens are what is compared
    service = await h.startService()
    await say('first question')
    await say('second question')
    await say('hello from someone else', { userId: 2001 })
    await settled()
    // The emulator reports a token per four characters of the request; sum what it reported for me.
    const reportedForMe = h.openai.requests
      .filter((r) => lastUserText(r) !== 'hello from someone else')
      .reduce((sum, r) => sum + Math.max(1, Math.ceil(JSON.stringify(r.messages).length / 4)), 0)
    const mine = await say('/usage')
    expect(mine).toMatch(/^Your spend: today \$0\.00 · this month \$0\.00 · last 30 days \$0\.00 \(days in UTC\)\.\n[\d,]+ tokens \(([\d,]+) in, ([\d,]+) out\) in 2 model call\(s\)\./)
    const input = Number(/\(([\d,]+) in/.exec(mine)![1]!.replace(/,/g, ''))
    expect(input).toBe(reportedForMe)
    expect(mine).toMatch(/assistant · test-model: \$0\.00 \(today \$0\.00, this month \$0\.00\) · [\d,]+ in, [\d,]+ out, 2 call\(s\)/)
    expect(mine).not.toMatch(/2001/)

    const everyone = await say('/usage', { userId: ADMIN_ID })
    expect(everyone).toMatch(/^Everyone's spend: .*\n.* in 3 model call\(s\)\./)
    expect(everyone).toMatch(new RegExp(`${USER_ID} · assistant · test-model: .* 2 call\\(s\\)`))
    expect(everyone).toMatch(/2001 · assistant · test-model: .* 1 call\(s\)/)
  })
})
