import { afterEach, beforeEach, describe, expect, test } from 'vitest'
import { ADMIN_ID, Harness, USER_ID, WEBHOOK_SECRET } from '../support/harness.ts'
import { sleep, waitUntil } from '../support/http.ts'
import type { ServiceProcess } from '../support/service.ts'

let h: Harness
let service: ServiceProcess
const ENV = { SCHEDULE_MIN_INTERVAL_SECONDS: '1', SCHEDULE_POLL_MS: '200' }

beforeEach(async () => {
  h = await Harness.create()
  service = await h.startService(ENV)
})
afterEach(() => h.closeAndCheckLogs())

const say = (text: string, userId = USER_ID) => h.say(service, text, { userId })

/** Presses a button of the newest message in the chat that has one with this label. */
async function press(label: string, opts: { userId?: number; chatId?: number } = {}) {
  const update = h.pressNewest(label, { chatId: opts.chatId ?? USER_ID, userId: opts.userId ?? USER_ID })
  await service.deliver(update, WEBHOOK_SECRET)
  return h.telegram.waitForAnswer(update.callback_query.id)
}

const arrived = (needle: string, chatId = USER_ID) => h.telegram.sentTexts(chatId).filter((t) => t.startsWith('⏰') && t.includes(needle))

describe('reminders and jobs, end to end', () => {
  test('a reminder in a few seconds arrives once, with its text, and /schedules shows it was sent', async () => {
    expect(await say('/remind in 2 seconds stretch your legs')).toMatch(/^Reminder set \([\w-]{12}\): stretch your legs\nonce; next .+\(UTC\)/)
    await waitUntil(() => arrived('stretch your legs').length === 1, 'the reminder', 10_000)
    await sleep(1500)
    expect(arrived('stretch your legs')).toEqual(['⏰ Reminder for Tester: stretch your legs'])
    expect(await say('/schedules')).toMatch(/^Reminder [\w-]{12}: stretch your legs\nonce; done\nMade by Tester\nLast sent /)
  })

  test('a job runs its prompt through the agent and posts the answer; a recurring one fires again and stops when deleted', async () => {
    expect(await say('/every 2 seconds summarise the queue')).toMatch(/^Job scheduled .*\nevery 2 seconds; next/)
    await waitUntil(() => arrived('summarise the queue').length >= 2, 'two firings', 15_000)
    expect(arrived('summarise the queue')[0]).toBe('⏰ Scheduled: summarise the queue\n\n[assistant] echo: summarise the queue')
    // Each firing is its own turn: the model saw the prompt each time.
    expect(h.openai.requests.filter((r) => JSON.stringify(r.messages).includes('summarise the queue')).length).toBeGreaterThanOrEqual(2)
    expect((await press('Delete')).params.text).toBe('Deleted')
    const count = arrived('summarise the queue').length
    await sleep(4000)
    expect(arrived('summarise the queue').length).toBeLessThanOrEqual(count + 1) // one may have been queued as the button was pressed
    const settled = arrived('summarise the queue').length
    await sleep(3000)
    expect(arrived('summarise the queue').length).toBe(settled)
  })

  test('a restart between making and firing still fires once', async () => {
    await say('/remind in 3 seconds water the plants')
    expect(await service.stop()).toEqual({ code: 0, signal: null })
    service = await h.startService(ENV)
    await waitUntil(() => arrived('water the plants').length === 1, 'the reminder after the restart', 15_000)
    await sleep(1500)
    expect(arrived('water the plants')).toHaveLength(1)
  })

  test('two service processes on one database fire each schedule once', async () => {
    await h.startService(ENV)
    for (const n of [1, 2, 3]) await say(`/remind in 2 seconds twin ${n}`)
    await waitUntil(() => [1, 2, 3].every((n) => arrived(`twin ${n}`).length >= 1), 'three reminders', 15_000)
    await sleep(2000)
    for (const n of [1, 2, 3]) expect(arrived(`twin ${n}`)).toHaveLength(1)
  })

  test('down across several slots: one firing on return, then the rhythm resumes', async () => {
    await say('/remind every 2 seconds tick')
    await waitUntil(() => arrived('tick').length >= 1, 'the first tick', 10_000)
    await service.stop()
    const before = arrived('tick').length
    await sleep(6500) // three slots missed
    service = await h.startService(ENV)
    await waitUntil(() => arrived('tick').length > before, 'the catch-up tick', 10_000)
    await sleep(1000)
    expect(arrived('tick').length).toBe(before + 1)
  })

  test('pause and resume; only the maker or an admin may change a schedule', async () => {
    await say('/remind every 2 seconds ping me')
    await waitUntil(() => arrived('ping me').length >= 1, 'a ping', 10_000)
    expect((await press('Pause')).params.text).toBe('Paused')
    await sleep(600)
    const paused = arrived('ping me').length
    await sleep(4000)
    expect(arrived('ping me').length).toBe(paused)
    expect(await say('/schedules')).toMatch(/every 2 seconds; paused/)
    const refused = await press('Resume', { userId: 2001 })
    expect(refused.params).toMatchObject({ text: 'Only the person who made it, or an admin, can change this schedule.', show_alert: true })
    expect((await press('Resume', { userId: ADMIN_ID })).params.text).toBe('Resumed')
    await waitUntil(() => arrived('ping me').length > paused, 'a ping after resuming', 10_000)
  })

  test('an ambiguous or unknown time asks back instead of guessing; time zones are validated', async () => {
    expect(await say('/remind at 7 call mom')).toMatch(/07:00 or 19:00/)
    expect(await say('/remind someday maybe')).toMatch(/in 10 minutes/)
    expect(await say('/timezone Mars/Base')).toBe('"Mars/Base" is not a time zone I know. Use an IANA name such as Europe/Berlin, America/New_York or UTC.')
    expect(await say('/timezone Asia/Kolkata')).toBe('Your time zone is now Asia/Kolkata. New reminders use it; existing ones keep theirs.')
    expect(await say('/remind tomorrow 9:00 standup')).toMatch(/next .*09:00 \(Asia\/Kolkata\)/)
    expect(await say('/schedules')).toMatch(/standup/)
  })

  test('the agent tool: "remind me in 2 seconds to take the cake out" in plain conversation', async () => {
    h.openai.enqueue({ toolCalls: [{ name: 'schedule', args: { kind: 'reminder', phrase: 'in 2 seconds take the cake out' } }] }, { content: 'I will remind you.' })
    expect(await say('remind me in 2 seconds to take the cake out')).toBe('[assistant] I will remind you.')
    const toolResult = h.openai.requests.at(-1)!.messages.find((m) => m.role === 'tool')
    expect(String(toolResult?.content)).toMatch(/^Scheduled [\w-]{12}: reminder "take the cake out", once, next /)
    await waitUntil(() => arrived('take the cake out').length === 1, 'the cake reminder', 10_000)
  })
})

describe('access', () => {
  test('a person denied since is not served by their schedules: the schedule is paused', async () => {
    const userId = 2001
    await say('/remind every 2 seconds keep going', userId)
    await waitUntil(() => arrived('keep going', userId).length >= 1, 'a firing', 10_000)
    expect(await say('/deny 2001', ADMIN_ID)).toMatch(/2001/)
    await sleep(2500)
    const count = arrived('keep going', userId).length
    await sleep(3000)
    expect(arrived('keep going', userId).length).toBe(count)
    expect(await say('/schedules all', ADMIN_ID)).toMatch(/keep going\nevery 2 seconds; paused/)
  })
})

describe('a firing that cannot be delivered', () => {
  test('is retried by the inbox, then /schedules shows the failure instead of pretending', async () => {
    await service.stop()
    service = await h.startService({ ...ENV, INBOX_MAX_ATTEMPTS: '2' })
    await say('/remind in 2 seconds unreachable')
    h.telegram.fail('sendMessage', 400, { times: 2, description: 'Bad Request: chat not found' })
    await waitUntil(() => h.telegram.callsOf('sendMessage').filter((c) => String(c.params.text).includes('unreachable') && !c.result).length === 2, 'two refused attempts', 20_000)
    await sleep(500)
    expect(arrived('unreachable')).toEqual([])
    expect(await say('/schedules')).toMatch(/unreachable\nonce; done\nMade by Tester\nLast firing failed \(due .*\): the message could not be delivered/)
    const metrics = await (await fetch(`${service.url}/metrics`)).text()
    expect(metrics).toMatch(/mechanic_schedule_firings_total\{kind="reminder",outcome="failed"\} 1/)
  })
})
