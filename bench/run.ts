// npm run bench: webhook acknowledgement latency at a fixed request rate (also while /metrics is
// scraped ten times a second), and per-turn overhead
// (end-to-end time minus the model's latency) across 100 chats, on the embedded database and, when
// TEST_DATABASE_URL is set, on native Postgres. Prints a table and writes bench/results/*.json.
import { TEST_DATABASE_URL } from '../test/support/database.ts'
import { Harness, WEBHOOK_SECRET } from '../test/support/harness.ts'
import { sleep } from '../test/support/http.ts'
import { lastUserText } from '../test/support/openai-emulator.ts'
import { bareServer, figures, printTable, timedTurn, writeResult } from './report.ts'

const ACK_RATE_PER_SECOND = 50
const ACK_SECONDS = 6
const CHATS = 100
const TURNS_PER_CHAT = 2
const MODEL_LATENCY_MS = 100
const SCRAPES_PER_SECOND = 10
const ACK_USER = 3000
const TURN_USER = 5000



/** Fires POSTs on a fixed schedule (open loop: a slow answer does not delay the next request). */
async function ackLatencies(post: (i: number) => Promise<Response>): Promise<number[]> {
  const total = ACK_RATE_PER_SECOND * ACK_SECONDS
  const interval = 1000 / ACK_RATE_PER_SECOND
  const start = performance.now()
  const pending: Array<Promise<number>> = []
  for (let i = 0; i < total; i++) {
    const due = start + i * interval
    const wait = due - performance.now()
    if (wait > 0) await sleep(wait)
    pending.push(
      (async () => {
        const t0 = performance.now()
        const res = await post(i)
        await res.arrayBuffer()
        if (res.status !== 200) throw new Error(`webhook answered ${res.status}`)
        return performance.now() - t0
      })(),
    )
  }
  return Promise.all(pending)
}

/** The floor: a bare Node HTTP server that answers 200 without touching a database. */
async function baselineAck(): Promise<number[]> {
  const bare = await bareServer()
  try {
    return await ackLatencies(() => fetch(`${bare.url}/telegram/webhook`, { method: 'POST', body: '{"update_id":1}' }))
  } finally {
    await bare.close()
  }
}

async function benchEngine(embedded: boolean) {
  const h = await Harness.create({ embedded })
  try {
    h.openai.respondWith((req) => ({ content: `echo: ${lastUserText(req)}`, delayMs: MODEL_LATENCY_MS }))
    const users = Array.from({ length: CHATS }, (_, i) => [ACK_USER + i, TURN_USER + i]).flat()
    const service = await h.startService({ LOG_LEVEL: 'info', DISPATCH_CONCURRENCY: '16', ALLOWED_USER_IDS: users.join(',') })

    // 1. Acknowledgement latency while the dispatcher is handling what arrives.
    const acks = await ackLatencies((i) => service.deliver(h.text(`ack ${i}`, { userId: ACK_USER + (i % CHATS) }), WEBHOOK_SECRET))
    const drained = () => service.drained(120_000)
    await drained()

    // 1b. The same while Prometheus (far more eagerly than its usual 15 s) scrapes /metrics.
    let scraping = true
    const scrapes: number[] = []
    const scraper = (async () => {
      while (scraping) {
        const t0 = performance.now()
        await (await fetch(`http://127.0.0.1:${service.port}/metrics`)).text()
        scrapes.push(performance.now() - t0)
        await sleep(1000 / SCRAPES_PER_SECOND)
      }
    })()
    const scrapedAcks = await ackLatencies((i) => service.deliver(h.text(`scraped ${i}`, { userId: ACK_USER + (i % CHATS) }), WEBHOOK_SECRET))
    scraping = false
    await scraper
    await drained()

    // 2. Per-turn overhead: one turn at a time, so no queueing hides in the figure.
    const overheads: number[] = []
    for (let round = 0; round < TURNS_PER_CHAT; round++) {
      for (let c = 0; c < CHATS; c++) {
        const chat = TURN_USER + c
        overheads.push((await timedTurn(h, service, `turn ${round} of chat ${chat}`, chat)) - MODEL_LATENCY_MS)
      }
    }
    return { engine: embedded ? 'embedded PGlite' : 'native Postgres', ack: figures(acks), ackWhileScraped: figures(scrapedAcks), scrape: figures(scrapes), turnOverhead: figures(overheads) }
  } finally {
    await h.close()
  }
}

const baseline = figures(await baselineAck())
const runs = [await benchEngine(true)]
if (TEST_DATABASE_URL) runs.push(await benchEngine(false))
else console.log('TEST_DATABASE_URL is not set: native Postgres skipped (run .ci/postgres.sh to get one).')

const table = [
  ['engine', 'webhook ack p50 ms', 'p99 ms', 'p50 vs bare HTTP', 'ack p50 / p99 while scraped', 'scrape p50 ms', 'turn overhead p50 ms', 'p99 ms'],
  ['bare node:http (baseline)', baseline.p50, baseline.p99, '1.0x', '-', '-', '-', '-'],
  ...runs.map((r) => [
    r.engine,
    r.ack.p50,
    r.ack.p99,
    `${(r.ack.p50 / baseline.p50).toFixed(1)}x`,
    `${r.ackWhileScraped.p50} / ${r.ackWhileScraped.p99}`,
    r.scrape.p50,
    r.turnOverhead.p50,
    r.turnOverhead.p99,
  ]),
]
printTable(table)

writeResult('bench', {
  settings: { ackRatePerSecond: ACK_RATE_PER_SECOND, ackSeconds: ACK_SECONDS, scrapesPerSecond: SCRAPES_PER_SECOND, chats: CHATS, turnsPerChat: TURNS_PER_CHAT, modelLatencyMs: MODEL_LATENCY_MS },
  baselineAck: baseline,
  runs,
})
