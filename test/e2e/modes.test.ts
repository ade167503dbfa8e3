import { afterEach, describe, expect, test } from 'vitest'
import { BOT_TOKEN, Harness, USER_ID } from '../support/harness.ts'
import { ServiceProcess } from '../support/service.ts'

let h: Harness | undefined

afterEach(async () => {
  await h?.closeAndCheckLogs()
  h = undefined
})

describe('long polling mode (TELEGRAM_WEBHOOK_URL unset)', () => {
  test('deletes the webhook, polls getUpdates into the inbox, answers once, and has no webhook route', async () => {
    h = await Harness.create()
    const service = await h.startService({ TELEGRAM_WEBHOOK_URL: '', TELEGRAM_WEBHOOK_SECRET: '' })
    expect(h.telegram.callsOf('deleteWebhook')).toHaveLength(1)
    expect(h.telegram.callsOf('setWebhook')).toHaveLength(0)
    const first = h.text('polled hello')
    h.telegram.queueUpdate(first)
    h.telegram.queueUpdate(h.text('polled again'))
    expect(await h.telegram.waitForTexts(USER_ID, 2)).toEqual(['[assistant] echo: polled hello', '[assistant] echo: polled again'])
    // The next getUpdates confirms them with an offset past the last one stored.
    const confirm = await h.telegram.waitForCall('getUpdates', (c) => c.params.offset === first.update_id + 2)
    expect(confirm.params.allowed_updates).toEqual(['message', 'edited_message', 'callback_query', 'my_chat_member'])
    expect((await service.deliver(h.text('webhook?'), 'any')).status).toBe(404)
  })
})

describe('embedded database', () => {
  test('a second process on the same data directory exits with a clear error and the first keeps working', async () => {
    h = await Harness.create({ embedded: true })
    const first = await h.startService()
    const second = ServiceProcess.spawn(h.env())
    const { code } = await second.exited
    expect(code).toBe(1)
    expect(second.output.join('\n')).toMatch(/data directory is in use by another Mechanic process \(pid \d+\)/)
    h.services.push(second) // its output is scanned for secrets too
    await first.deliver(h.text('still mine'), 'test-webhook-secret-value')
    expect(await h.telegram.waitForTexts(USER_ID, 1)).toEqual(['[assistant] echo: still mine'])
  })

  test('after kill -9 the stale lock is taken over on the next start', async () => {
    h = await Harness.create({ embedded: true })
    const first = await h.startService()
    await first.kill9()
    const second = await h.startService()
    expect((await second.health()).status).toBe(200)
  })
})

describe('configuration errors stop the start with one line that names the variable', () => {
  const cases: Array<{ name: string; env: Record<string, string>; line: RegExp }> = [
    { name: 'a missing bot token', env: { TELEGRAM_BOT_TOKEN: '' }, line: /^Configuration error: TELEGRAM_BOT_TOKEN is required: create a bot with @BotFather/ },
    { name: 'a malformed bot token', env: { TELEGRAM_BOT_TOKEN: 'nonsense' }, line: /^Configuration error: TELEGRAM_BOT_TOKEN does not look like a bot token/ },
    { name: 'webhook mode without a secret', env: { TELEGRAM_WEBHOOK_SECRET: '' }, line: /^Configuration error: TELEGRAM_WEBHOOK_SECRET is required in webhook mode/ },
    { name: 'a malformed admin list', env: { TELEGRAM_ADMIN_IDS: '12,abc' }, line: /^Configuration error: TELEGRAM_ADMIN_IDS "abc" is not a numeric Telegram id/ },
    { name: 'a port out of range', env: { PORT: '70000' }, line: /^Configuration error: PORT must be a TCP port/ },
  ]
  test.each(cases)('$name', async ({ env, line }) => {
    h = await Harness.create({ embedded: true })
    const service = ServiceProcess.spawn(h.env(env))
    h.services.push(service)
    expect((await service.exited).code).toBe(1)
    expect(service.output.filter(Boolean)).toHaveLength(1)
    expect(service.output[0]).toMatch(line)
    expect(service.output[0]).not.toContain(BOT_TOKEN)
  })
})
