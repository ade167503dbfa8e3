// npm run bench (schedules): the firing lag of reminders, from the time they fall due to the moment
// the Telegram emulator receives them, with the default SCHEDULE_POLL_MS (1 s), on the embedded
// database and (with TEST_DATABASE_URL) native Postgres, with an idle inbox and with a busy one
// (other chats sending 40 messages a second to a model that takes 100 ms). The due time is the one
// the service logged when it made the schedule. Writes bench/results/schedules-*.json.
import { Harness, WEBHOOK_SECRET } from '../test/support/harness.ts'
import { sleep, waitUntil } from '../test/support/http.ts'
import { TEST_DATABASE_URL } from '../test/support/database.ts'
import { lastUserText } from '../test/support/openai-emulator.ts'
import { figures, printTable, writeResult } from './report.ts'

const REMINDERS = 30
const SPREAD_MS = 200 // between the reminders' due times
const LEAD_S = 3 // "in 3 seconds"
const BUSY_PER_SECOND = 40
const BUSY_CHATS = 40
const MODEL_LATENCY_MS = 100
const REMINDER_CHAT = 7000
const BUSY_CHAT = 8000

async function run(embedded: boolean, busy: boolean) {
  const h = await Harness.create({ embedded })
  try {
    h.openai.respondWith((req) => ({ content: `echo: ${lastUserText(req)}`, delayMs: MODEL_LATENCY_MS }))
    const users = [...Array.from({ length: REMINDERS }, (_, i) => REMINDER_CHAT + i), ...Array.from({ length: BUSY_CHATS }, (_, i) => BUSY_CHAT + i)]
    const service = await h.startService({ LOG_LEVEL: 'info', ALLOWED_USER_IDS: users.join(','), DISPATCH_CONCURRENCY: '16' })
    let flooding = busy
    const flood = (async () => {
      for (let i = 0; flooding; i++) {
        void service.deliver(h.text(`busy ${i}`, { userId: BUSY_CHAT + (i % BUSY_CHATS) }), WEBHOOK_SECRET)
        await sleep(1000 / BUSY_PER_SECOND)
      }
    })()
    for (let i = 0; i < REMINDERS; i++) {
      await service.deliver(h.text(`/remind in ${LEAD_S} seconds r${i}`, { userId: REMINDER_CHAT + i }), WEBHOOK_SECRET)
      await sleep(SPREAD_MS)
    }
    const arrival = (i: number) => h.telegram.callsOf('sendMessage').find((c) => Number(c.params.chat_id) === REMINDER_CHAT + i && String(c.params.text).includes(`r${i}`) && String(c.params.text).startsWith('⏰'))
    await waitUntil(() => Array.from({ length: REMINDERS }, (_, i) => arrival(i)).every(Boolean), 'every reminder', 60_000)
    flooding = false
    await flood
    const created = service.logs().filter((l) => l.msg === 'schedule created')
    const lags = Array.from({ length: REMINDERS }, (_, i) => {
      const chat = REMINDER_CHAT + i
      const log = created.find((l) => l.chatId === chat)
      if (!log) throw new Error(`no 'schedule created' log for chat ${chat}`)
      return arrival(i)!.at - new Date(String(log.nextRunAt)).getTime()
    })
    return { engine: embedded ? 'embedded PGlite' : 'native Postgres', inbox: busy ? `busy (${BUSY_PER_SECOND}/s)` : 'idle', lagMs: figures(lags, 0) }
  } finally {
    await h.close()
  }
}

const runs = []
for (const embedded of [true, ...(TEST_DATABASE_URL ? [false] : [])]) for (const busy of [false, true]) runs.push(await run(embedded, busy))
printTable([['engine', 'inbox', 'lag p50 ms', 'p99 ms', 'mean ms'], ...runs.map((r) => [r.engine, r.inbox, r.lagMs.p50, r.lagMs.p99, r.lagMs.mean])])
writeResult('schedules', { settings: { reminders: REMINDERS, pollMs: 1000, busyPerSecond: BUSY_PER_SECOND, modelLatencyMs: MODEL_LATENCY_MS }, runs })
