import { afterEach, beforeEach, describe, expect, test } from 'vitest'
import { ADMIN_ID, Harness, USER_ID, WEBHOOK_SECRET } from '../support/harness.ts'
import { sleep, waitUntil } from '../support/http.ts'
import type { ServiceProcess } from '../support/service.ts'

let h: Harness
let service: ServiceProcess

beforeEach(async () => {
  h = await Harness.create()
  service = await h.startService()
})

afterEach(() => h.closeAndCheckLogs())

describe('webhook mode, end to end through the real service process', () => {
  test('registers its webhook with the secret and the update kinds it handles', async () => {
    expect(h.telegram.webhook).toEqual({
      url: 'https://mechanic.example.test/telegram/webhook',
      secretToken: WEBHOOK_SECRET,
      allowedUpdates: ['message', 'edited_message', 'callback_query', 'my_chat_member'],
    })
    expect(h.telegram.callsOf('getMe')).toHaveLength(1)
  })

  test('a text message gets the model answer, with the system prompt, the text and a typing action', async () => {
    const res = await service.deliver(h.text('hello mechanic'), WEBHOOK_SECRET)
    expect(res.status).toBe(200)
    expect(await h.telegram.waitForTexts(USER_ID, 1)).toEqual(['[assistant] echo: hello mechanic'])
    const [request] = h.openai.requests
    expect(request?.model).toBe('test-model')
    expect(request?.messages[0]?.role).toBe('system')
    expect(request?.messages.at(-1)).toMatchObject({ role: 'user', content: 'hello mechanic' })
    expect(h.telegram.callsOf('sendChatAction')[0]?.params).toMatchObject({ chat_id: USER_ID, action: 'typing' })
  })

  test('the same update_id delivered three times is answered once', async () => {
    const update = h.text('only once please')
    const statuses = await Promise.all([1, 2, 3].map(() => service.deliver(update, WEBHOOK_SECRET).then((r) => r.status)))
    expect(statuses).toEqual([200, 200, 200])
    await h.telegram.waitForTexts(USER_ID, 1)
    await sleep(1000) // time for a second answer to show up, if there were one
    expect(h.telegram.sentTexts(USER_ID)).toEqual(['[assistant] echo: only once please'])
    expect(h.openai.requests).toHaveLength(1)
  })

  test('a wrong or missing secret gets 401 and nothing is stored', async () => {
    expect((await service.deliver(h.text('intruder'), 'wrong-secret')).status).toBe(401)
    expect((await service.deliver(h.text('intruder'), undefined)).status).toBe(401)
    await sleep(500)
    expect(h.openai.requests).toHaveLength(0)
    const health = await service.health()
    expect((health.body.components as { inbox: { depth: number } }).inbox.depth).toBe(0)
  })

  test('a body that is not an update gets 400; a valid one after it still works', async () => {
    expect((await service.deliver({ hello: 'world' }, WEBHOOK_SECRET)).status).toBe(400)
    const raw = await fetch(`${service.url}/telegram/webhook`, { method: 'POST', headers: { 'x-telegram-bot-api-secret-token': WEBHOOK_SECRET }, body: '{not json' })
    expect(raw.status).toBe(400)
    expect((await service.deliver(h.text('still here'), WEBHOOK_SECRET)).status).toBe(200)
    expect(await h.telegram.waitForTexts(USER_ID, 1)).toEqual(['[assistant] echo: still here'])
  })

  test('an unknown user gets one refusal with their id, no model call, and an audit entry', async () => {
    const stranger = 777_000
    await service.deliver(h.text('let me in', { userId: stranger }), WEBHOOK_SECRET)
    const [refusal] = await h.telegram.waitForTexts(stranger, 1)
    expect(refusal).toContain(String(stranger))
    expect(refusal).toMatch(/private/)
    await service.waitForLog((l) => l.msg === 'access denied' && l.userId === stranger)
    expect(h.openai.requests).toHaveLength(0)
  })

  test('two chats do not wait for each other: a slow model answer in one does not hold up the other', async () => {
    h.openai.respondWith((req) => {
      const text = req.messages.findLast((m) => m.role === 'user')?.content as string
      return { content: `echo: ${text}`, delayMs: text === 'slow' ? 4000 : 0 }
    })
    const t0 = Date.now()
    await service.deliver(h.text('slow', { userId: 2001 }), WEBHOOK_SECRET)
    await service.deliver(h.text('fast', { userId: 2002 }), WEBHOOK_SECRET)
    await h.telegram.waitForTexts(2002, 1)
    const fastDone = Date.now() - t0
    expect(h.telegram.sentTexts(2001)).toEqual([]) // the slow one is still thinking
    expect(fastDone).toBeLessThan(3000)
    expect(await h.telegram.waitForTexts(2001, 1)).toEqual(['[assistant] echo: slow'])
  })

  test('five quick messages in one chat are answered in order, each seeing the ones before', async () => {
    h.openai.respondWith((req) => ({ content: `echo: ${req.messages.at(-1)?.content as string}`, delayMs: 150 }))
    const updates = ['one', 'two', 'three', 'four', 'five'].map((t) => h.text(t))
    for (const u of updates) expect((await service.deliver(u, WEBHOOK_SECRET)).status).toBe(200)
    expect(await h.telegram.waitForTexts(USER_ID, 5)).toEqual(['[assistant] echo: one', '[assistant] echo: two', '[assistant] echo: three', '[assistant] echo: four', '[assistant] echo: five'])
    const lastRequest = h.openai.requests.at(-1)
    expect(lastRequest?.messages.filter((m) => m.role === 'user').map((m) => m.content)).toEqual(['one', 'two', 'three', 'four', 'five'])
  })

  test('/new starts a fresh conversation: the model no longer sees earlier messages', async () => {
    await service.deliver(h.text('my name is Ada'), WEBHOOK_SECRET)
    await h.telegram.waitForTexts(USER_ID, 1)
    await service.deliver(h.text('/new'), WEBHOOK_SECRET)
    await h.telegram.waitForTexts(USER_ID, 2)
    await service.deliver(h.text('what is my name?'), WEBHOOK_SECRET)
    await h.telegram.waitForTexts(USER_ID, 3)
    const last = h.openai.requests.at(-1)
    expect(last?.messages.map((m) => m.content)).not.toContain('my name is Ada')
    expect(h.telegram.sentTexts(USER_ID)[1]).toMatch(/new conversation/i)
  })

  test('/status answers admins with figures and refuses others', async () => {
    await service.deliver(h.text('/status', { userId: ADMIN_ID }), WEBHOOK_SECRET)
    const [status] = await h.telegram.waitForTexts(ADMIN_ID, 1)
    expect(status).toMatch(/Uptime: /)
    expect(status).toMatch(/Database: (postgres|embedded), [\d.]+ ms/)
    expect(status).toMatch(/Inbox: \d+ waiting/)
    await service.deliver(h.text('/status'), WEBHOOK_SECRET)
    expect(await h.telegram.waitForTexts(USER_ID, 1)).toEqual(['That command is for admins only.'])
    expect(h.openai.requests).toHaveLength(0)
  })

  test('publishes the command menu, with /status only in admin chats', async () => {
    const calls = await waitUntil(() => (h.telegram.callsOf('setMyCommands').length >= 2 ? h.telegram.callsOf('setMyCommands') : undefined), 'setMyCommands')
    const names = (c: (typeof calls)[number]) => (c.params.commands as Array<{ command: string }>).map((x) => x.command)
    expect(names(calls[0]!)).not.toContain('status')
    expect(calls[1]?.params.scope).toEqual({ type: 'chat', chat_id: ADMIN_ID })
    expect(names(calls[1]!)).toContain('status')
  })

  test('a sticker gets a sentence saying what Mechanic reads; an edited message is ignored without error', async () => {
    const sticker = { update_id: h.nextUpdateId(), message: { message_id: 9, date: 1, chat: { id: USER_ID, type: 'private' }, from: { id: USER_ID, is_bot: false, first_name: 'T' }, sticker: { file_id: 'x', file_unique_id: 'y', type: 'regular', width: 512, height: 512, is_animated: false, is_video: false } } }
    const edited = { update_id: h.nextUpdateId(), edited_message: { message_id: 8, date: 1, edit_date: 2, chat: { id: USER_ID, type: 'private' }, from: { id: USER_ID, is_bot: false, first_name: 'T' }, text: 'changed' } }
    await service.deliver(sticker, WEBHOOK_SECRET)
    await service.deliver(edited, WEBHOOK_SECRET)
    expect(await h.telegram.waitForTexts(USER_ID, 1)).toEqual(['I read text, voice messages, photos and files (text, code, PDF). Please send your request as one of those.'])
    await service.waitForLog((l) => l.msg === 'update ignored' && l.updateId === edited.update_id)
    const health = await service.health()
    expect((health.body.components as { inbox: { failedLastDay: number } }).inbox.failedLastDay).toBe(0)
  })

  test('a reply longer than 4096 characters arrives as several messages that Telegram accepts', async () => {
    const paragraph = 'All work and no play makes Jack a dull boy. '.repeat(20).trim()
    const long = Array.from({ length: 12 }, (_, i) => `Part ${i + 1}: ${paragraph}`).join('\n\n')
    expect(long.length).toBeGreaterThan(9000)
    h.openai.enqueue({ content: long })
    await service.deliver(h.text('write a lot'), WEBHOOK_SECRET)
    const parts = await h.telegram.waitForTexts(USER_ID, 3)
    expect(parts.every((p) => p.length <= 4096)).toBe(true)
    expect(parts.join('\n\n')).toBe(`[assistant] ${long}`)
  })

  test('Telegram 429 with retry_after on the answer is waited out and the answer still arrives', async () => {
    h.telegram.fail('sendMessage', 429, { retryAfter: 1, times: 2 })
    await service.deliver(h.text('rate limited'), WEBHOOK_SECRET)
    // Two refused sends, then the one that arrives.
    expect(await h.telegram.waitForTexts(USER_ID, 1)).toEqual(['[assistant] echo: rate limited'])
    const sends = h.telegram.callsOf('sendMessage')
    expect(sends).toHaveLength(3)
    expect(sends[2]!.at - sends[0]!.at).toBeGreaterThanOrEqual(1900)
  })

  test('/health reports each component and 200 while the service can work', async () => {
    const { status, body } = await service.health()
    expect(status).toBe(200)
    expect(body).toMatchObject({
      status: 'ok',
      components: { database: { ok: true }, dispatcher: { ok: true, active: 0 }, inbox: { depth: 0, oldestQueuedSeconds: null } },
    })
  })
})
