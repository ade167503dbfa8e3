import { afterEach, describe, expect, test } from 'vitest'
import { Harness, USER_ID, WEBHOOK_SECRET } from '../support/harness.ts'
import { sleep } from '../support/http.ts'

let h: Harness | undefined
afterEach(async () => {
  await h?.closeAndCheckLogs()
  h = undefined
})

const GROUP = -700

describe('every button press is answered', () => {
  test('unknown, malformed and stale buttons, in a private chat and a group, by a member and a stranger: one answer each, within a second', async () => {
    h = await Harness.create()
    const service = await h.startService()
    const presses = [
      { why: 'no family owns it, in a group', data: 'zz:whatever', chatId: GROUP, userId: USER_ID },
      { why: 'a malformed approval button', data: 'ap:not-an-id:a', chatId: GROUP, userId: USER_ID },
      { why: 'a well-formed approval nobody asked for', data: 'ap:abcdefghijkl:a', chatId: USER_ID, userId: USER_ID },
      { why: 'an agent that does not exist', data: 'ag:use:nobody', chatId: GROUP, userId: USER_ID },
      { why: 'a malformed memory button', data: 'mem:f:x:y', chatId: GROUP, userId: USER_ID },
      { why: 'a wizard button with no wizard running', data: 'wz:yes', chatId: GROUP, userId: USER_ID },
      { why: 'a stranger in a group', data: 'zz:whatever', chatId: GROUP, userId: 9999 },
    ]
    const answered: Array<{ why: string; ms: number }> = []
    for (const p of presses) {
      const update = h.press(1, p.data, { chatId: p.chatId, userId: p.userId })
      const sent = Date.now()
      expect((await service.deliver(update, WEBHOOK_SECRET)).status).toBe(200)
      const answer = await h.telegram.waitForAnswer(update.callback_query.id)
      answered.push({ why: p.why, ms: answer.at - sent })
    }
    for (const a of answered) expect(a.ms, a.why).toBeLessThan(1000)
    await sleep(1000) // a second answer to any of them would show up by now
    const ids = new Set(h.telegram.callsOf('answerCallbackQuery').map((c) => c.params.callback_query_id))
    expect(h.telegram.callsOf('answerCallbackQuery')).toHaveLength(presses.length)
    expect(ids.size).toBe(presses.length)
    const { body } = await service.health()
    expect((body.components as { inbox: { failedLastDay: number } }).inbox.failedLastDay).toBe(0)
  })
})
