import { join } from 'node:path'
import { afterEach, describe, expect, test } from 'vitest'
import { JournalWriter } from '../../db/journal.ts'
import { TEST_DATABASE_URL } from '../support/database.ts'
import { Harness, WEBHOOK_SECRET } from '../support/harness.ts'
import { waitUntil } from '../support/http.ts'
import { lastUserText } from '../support/openai-emulator.ts'

let h: Harness | undefined

afterEach(async () => {
  await h?.closeAndCheckLogs()
  h = undefined
})

const CATCHING_UP = "I'm catching up on a backlog of messages. Yours is safely queued, and I'll answer it as soon as I reach it."
const CHATS = Array.from({ length: 12 }, (_, i) => 7000 + i)

describe.each([
  { mode: 'native Postgres', embedded: false },
  { mode: 'embedded PGlite', embedded: true },
])('ingest apart from the work ($mode)', ({ embedded }) => {
  test.skipIf(!embedded && !TEST_DATABASE_URL)(
    'a burst is acknowledged while the turns wait; the backlog drains once per update, in order per chat, and waiting chats are told once',
    async () => {
      h = await Harness.create({ embedded })
      h.openai.respondWith((req) => ({ content: `echo: ${lastUserText(req)}`, delayMs: 250 }))
      const service = await h.startService({ DISPATCH_CONCURRENCY: '1', BACKLOG_NOTICE_SECONDS: '1', ALLOWED_USER_IDS: CHATS.join(',') })
      const updates = [0, 1].flatMap((n) => CHATS.map((chat) => h!.text(`message ${n} of ${chat}`, { userId: chat })))
      const statuses = await Promise.all(updates.map(async (u) => (await service.deliver(u, WEBHOOK_SECRET)).status))
      expect(statuses.every((s) => s === 200)).toBe(true)
      // Acknowledged without waiting for the work: one turn at a time, 250 ms each, most still wait.
      const { inbox, ingest } = (await service.health()).body.components as { inbox: { depth: number }; ingest: { ok: boolean } }
      expect(inbox.depth).toBeGreaterThan(updates.length / 2)
      expect(ingest.ok).toBe(true)

      const answers = (chat: number) => h!.telegram.sentTexts(chat).filter((t) => t.startsWith('[assistant]'))
      await waitUntil(() => CHATS.every((chat) => answers(chat).length === 2), 'every message to be answered', 30_000)
      for (const chat of CHATS) expect(answers(chat)).toEqual([`[assistant] echo: message 0 of ${chat}`, `[assistant] echo: message 1 of ${chat}`])
      const notes = CHATS.map((chat) => h!.telegram.sentTexts(chat).filter((t) => t === CATCHING_UP).length)
      expect(Math.max(...notes)).toBe(1) // never twice in one backlog
      expect(notes.filter((n) => n === 1).length).toBeGreaterThan(0) // the chats at the back waited seconds
      expect(h.openai.requests.filter((r) => r.model === 'test-model')).toHaveLength(updates.length)
      expect(await service.inboxDepth()).toBe(0)

      const metrics = await (await fetch(`http://127.0.0.1:${service.port}/metrics`)).text()
      expect(metrics).toMatch(/^mechanic_webhook_ack_seconds_count\{outcome="stored"\} 24$/m)
      expect(metrics).toMatch(/^mechanic_ingest_event_loop_delay_seconds\{quantile="0.99"\} [\d.e-]+$/m)
      expect(metrics).toMatch(/^mechanic_updates_received_total\{kind="message"\} 24$/m)
      expect(metrics).toMatch(/^mechanic_db_statements_total \d+$/m)
    },
    60_000,
  )
})

describe('the embedded journal', () => {
  test('updates acknowledged but not yet in the inbox when the process died are answered after the restart, once', async () => {
    h = await Harness.create({ embedded: true })
    const first = await h.startService()
    await first.stop()
    // What a kill -9 between the journal's sync (the 200 Telegram saw) and the move leaves behind.
    const journal = JournalWriter.open(join(h.db.dataDir, 'ingest'))
    const update = h.text('journaled before the crash', { userId: CHATS[0] })
    await journal.append([{ updateId: update.update_id, lane: CHATS[0]!, kind: 'message', payload: update }])
    await journal.close()

    const second = await h.startService({ ALLOWED_USER_IDS: String(CHATS[0]) })
    await second.waitForLog((l) => l.msg === 'moved journaled updates into the inbox' && l.journaled === 1 && l.new === 1)
    expect(await h.telegram.waitForTexts(CHATS[0]!, 1)).toEqual(['[assistant] echo: journaled before the crash'])
    // Telegram delivering the same update again changes nothing.
    expect((await second.deliver(update, WEBHOOK_SECRET)).status).toBe(200)
    await second.stop()
    const third = await h.startService({ ALLOWED_USER_IDS: String(CHATS[0]) })
    await third.deliver(h.text('after', { userId: CHATS[0] }), WEBHOOK_SECRET)
    expect(await h.telegram.waitForTexts(CHATS[0]!, 2)).toEqual(['[assistant] echo: journaled before the crash', '[assistant] echo: after'])
  })
})
