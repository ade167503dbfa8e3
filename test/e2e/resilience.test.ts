import { afterEach, describe, expect, test } from 'vitest'
import { TEST_DATABASE_URL } from '../support/database.ts'
import { Harness, USER_ID, WEBHOOK_SECRET } from '../support/harness.ts'
import { sleep, waitUntil } from '../support/http.ts'
import { lastUserText } from '../support/openai-emulator.ts'
import { TcpProxy } from '../support/tcp-proxy.ts'

let h: Harness | undefined

afterEach(async () => {
  await h?.closeAndCheckLogs()
  h = undefined
})

const inboxOf = async (h: Harness) => {
  const service = h.services.at(-1)!
  return (await service.health()).body.components as { inbox: { depth: number; failedLastDay: number } }
}

describe.each([
  { mode: 'native Postgres', embedded: false },
  { mode: 'embedded PGlite', embedded: true },
])('restarts ($mode)', ({ embedded }) => {
  test.skipIf(!embedded && !TEST_DATABASE_URL)('a restart keeps the conversation (needs TEST_DATABASE_URL for native)', async () => {
    h = await Harness.create({ embedded })
    const first = await h.startService()
    await first.deliver(h.text('my name is Ada'), WEBHOOK_SECRET)
    await h.telegram.waitForTexts(USER_ID, 1)
    expect(await first.stop()).toEqual({ code: 0, signal: null })

    const second = await h.startService()
    await second.deliver(h.text('what is my name?'), WEBHOOK_SECRET)
    await h.telegram.waitForTexts(USER_ID, 2)
    const contents = h.openai.requests.at(-1)?.messages.map((m) => m.content)
    expect(contents).toContain('my name is Ada')
    expect(contents).toContain('echo: my name is Ada') // the model sees its own words, without the label
  })
})

describe.each([
  { mode: 'native Postgres', embedded: false },
  { mode: 'embedded PGlite', embedded: true },
])('crash recovery ($mode)', ({ mode, embedded }) => {
  test.skipIf(!embedded && !TEST_DATABASE_URL)(
    'kill -9 during a slow model call: with the default lease, the restart answers that update within 10 s, exactly once (needs TEST_DATABASE_URL for native)',
    async () => {
      h = await Harness.create({ embedded })
      const first = await h.startService() // INBOX_LEASE_SECONDS stays at its default (120 s)
      h.openai.enqueue({ content: 'never delivered', delayMs: 10_000 })
      await first.deliver(h.text('survive this'), WEBHOOK_SECRET)
      await h.openai.waitForRequests(1)
      await first.kill9()

      const second = await h.startService()
      const started = Number((await second.waitForLog((l) => l.msg === 'service started')).time)
      // The dead process's claim is taken over because its liveness lock is gone, not because its lease ran out.
      expect(await h.telegram.waitForTexts(USER_ID, 1, 10_000 - (Date.now() - started))).toEqual(['[assistant] echo: survive this'])
      const answeredAt = h.telegram.callsOf('sendMessage').find((c) => Number(c.params.chat_id) === USER_ID)!.at
      expect(answeredAt - started).toBeLessThan(10_000)
      console.info(`crash recovery (${mode}): answer ${answeredAt - started} ms after "service started"`)
      await sleep(2500) // a second completion (the dead attempt, or a double claim) would have shown up
      expect(h.telegram.sentTexts(USER_ID)).toEqual(['[assistant] echo: survive this'])
      expect(h.openai.requests).toHaveLength(2)
      expect((await inboxOf(h)).inbox.depth).toBe(0)
      await second.stop()
    },
  )
})

describe('crashes and shutdowns', () => {
  test('SIGTERM lets a running handler finish, refuses new updates with 503, and exits 0', async () => {
    h = await Harness.create()
    const service = await h.startService()
    h.openai.enqueue({ content: 'finished in time', delayMs: 2000 })
    await service.deliver(h.text('slow one'), WEBHOOK_SECRET)
    await h.openai.waitForRequests(1)
    service.child.kill('SIGTERM')
    await service.waitForLog((l) => l.msg === 'shutting down')
    expect((await service.deliver(h.text('too late'), WEBHOOK_SECRET)).status).toBe(503)
    expect(await service.exited).toEqual({ code: 0, signal: null })
    expect(h.telegram.sentTexts(USER_ID)).toEqual(['[assistant] finished in time'])
  })

  test('a handler still running when the grace period ends is handed back and finished by the next start', async () => {
    h = await Harness.create()
    const first = await h.startService({ SHUTDOWN_GRACE_SECONDS: '1' })
    h.openai.enqueue({ content: 'too slow for the grace period', delayMs: 8000 })
    await first.deliver(h.text('hand me back'), WEBHOOK_SECRET)
    await h.openai.waitForRequests(1)
    expect(await first.stop()).toEqual({ code: 0, signal: null })
    expect(first.logs().find((l) => l.msg === 'dispatcher stopped')).toMatchObject({ finished: false, released: 1 })

    await h.startService()
    expect(await h.telegram.waitForTexts(USER_ID, 1)).toEqual(['[assistant] echo: hand me back'])
  })

  test('a handler that keeps failing is retried a bounded number of times, then the person is told once', async () => {
    h = await Harness.create()
    const service = await h.startService({ INBOX_MAX_ATTEMPTS: '3' })
    h.telegram.fail('sendMessage', 400, { times: 3, description: 'Bad Request: emulated permanent failure' })
    await service.deliver(h.text('doomed'), WEBHOOK_SECRET)
    // Three attempts to send the answer are refused; the person then gets the one message that arrives.
    const [gaveUp] = await h.telegram.waitForTexts(USER_ID, 1)
    expect(gaveUp).toMatch(/could not handle your last message/)
    const attempts = h.telegram.callsOf('sendMessage').map((c) => String(c.params.text))
    expect(attempts.slice(0, 3)).toEqual(['[assistant] echo: doomed', '[assistant] echo: doomed', '[assistant] echo: doomed'])
    // The answer was checkpointed on the first attempt: retries resend it without asking the model again.
    expect(h.openai.requests).toHaveLength(1)
    await sleep(1500)
    expect(h.telegram.callsOf('sendMessage')).toHaveLength(4)
    expect((await inboxOf(h)).inbox).toMatchObject({ depth: 0, failedLastDay: 1 })
  })
})

describe('model failures', () => {
  test('model 500s are retried with backoff and the answer still arrives', async () => {
    h = await Harness.create()
    const service = await h.startService()
    h.openai.enqueue({ status: 500 }, { status: 503 })
    await service.deliver(h.text('try hard'), WEBHOOK_SECRET)
    expect(await h.telegram.waitForTexts(USER_ID, 1)).toEqual(['[assistant] echo: try hard'])
    expect(h.openai.requests).toHaveLength(3)
  })

  test.each([
    { name: 'a model that keeps failing', turn: { status: 500 }, expected: /not answering right now/ },
    { name: 'a model that is too slow', turn: { content: 'late', delayMs: 4000 }, expected: /took too long/ },
    { name: 'a model that sends malformed output', turn: { raw: '{"choices": [' }, expected: /could not read|not answering/ },
  ])('$name: one plain sentence, the update is done and not retried', async ({ turn, expected }) => {
    h = await Harness.create()
    const service = await h.startService({ LLM_TIMEOUT_SECONDS: '1', LLM_MAX_RETRIES: '1' })
    h.openai.respondWith(() => turn)
    await service.deliver(h.text('hello?'), WEBHOOK_SECRET)
    const [sentence] = await h.telegram.waitForTexts(USER_ID, 1, 30_000)
    expect(sentence).toMatch(expected)
    await waitUntil(async () => (await inboxOf(h!)).inbox.depth === 0, 'the update to be done')
    const calls = h.openai.requests.length
    expect(calls).toBe(2) // the first try and one retry, nothing more
    await sleep(1500)
    expect(h.openai.requests).toHaveLength(calls)
    expect(h.telegram.sentTexts(USER_ID)).toHaveLength(1)
    await service.waitForLog((l) => l.msg === 'model failed')
  })
})

describe.skipIf(!TEST_DATABASE_URL)('database outage (native Postgres; skipped without TEST_DATABASE_URL)', () => {
  test('an unreachable database gives 503 on the webhook and /health, and the service recovers after', async () => {
    h = await Harness.create()
    const target = new URL(h.db.url!)
    const proxy = await new TcpProxy({ host: target.hostname, port: Number(target.port) }).start()
    try {
      const viaProxy = new URL(h.db.url!)
      viaProxy.port = String(proxy.port)
      const service = await h.startService({ DATABASE_URL: viaProxy.toString() })
      await proxy.cut()
      const update = h.text('during the outage')
      const res = await service.deliver(update, WEBHOOK_SECRET)
      expect(res.status).toBe(503)
      expect(res.headers.get('retry-after')).toBe('5')
      expect((await service.health()).status).toBe(503)

      await proxy.restore()
      // Telegram delivers again after a 5xx: the same update now goes through.
      await waitUntil(async () => (await service.deliver(update, WEBHOOK_SECRET)).status === 200, 'the webhook to accept again')
      expect(await h.telegram.waitForTexts(USER_ID, 1)).toEqual(['[assistant] echo: during the outage'])
      await waitUntil(async () => (await service.health()).status === 200, '/health to recover')
    } finally {
      await proxy.close()
    }
  })
})

describe.skipIf(!TEST_DATABASE_URL)('several service processes on one Postgres (skipped without TEST_DATABASE_URL)', () => {
  test('updates spread over two processes are each answered once, in order within every chat', async () => {
    h = await Harness.create()
    const services = [await h.startService(), await h.startService()]
    h.openai.respondWith((req) => ({ content: `echo: ${lastUserText(req)}`, delayMs: 50 + Math.floor(Math.random() * 100) }))
    const chats = [2001, 2002, 2003]
    const expected = new Map(chats.map((c) => [c, [] as string[]]))
    for (let i = 0; i < 6; i++) {
      // Each round is stored before the next is sent: order is guaranteed among stored updates (an
      // update that has not arrived yet cannot be waited for). Chats and processes stay concurrent.
      const round: Array<Promise<Response>> = []
      for (const chat of chats) {
        const text = `chat ${chat} message ${i}`
        expected.get(chat)!.push(`[assistant] echo: ${text}`)
        const update = h.text(text, { userId: chat })
        // Every update reaches both processes, as a redelivery after a timeout would.
        round.push(services[i % 2]!.deliver(update, WEBHOOK_SECRET), services[(i + 1) % 2]!.deliver(update, WEBHOOK_SECRET))
      }
      expect((await Promise.all(round)).map((r) => r.status)).toEqual(Array(round.length).fill(200))
    }
    for (const chat of chats) expect(await h.telegram.waitForTexts(chat, 6, 30_000)).toEqual(expected.get(chat))
    await sleep(1000)
    for (const chat of chats) expect(h.telegram.sentTexts(chat)).toHaveLength(6)
    const handledBy = services.map((s) => s.logs().filter((l) => l.msg === 'update handled').length)
    expect(handledBy.reduce((a, b) => a + b)).toBe(18)
  })
})
