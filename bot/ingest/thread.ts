// The ingest thread: Telegram's webhook is answered here, on an event loop of its own, so that an
// acknowledgement never waits for the turns the main thread is running. Started by IngestThread.
import type { AddressInfo } from 'node:net'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { parentPort, workerData } from 'node:worker_threads'
import pg from 'pg'
import { Counter, Gauge, Histogram, Registry } from 'prom-client'
import { enqueueMany, newKinds } from '../../db/inbox.ts'
import type { NewUpdate } from '../../db/inbox.ts'
import { JournalWriter } from '../../db/journal.ts'
import type { JournalMark } from '../../db/journal.ts'
import { createLogger } from '../../logger.ts'
import type { RoutedUpdate } from '../update.ts'
import { GroupCommit } from './group-commit.ts'
import type { Answer, FromIngest, IngestSettings, ToIngest } from './protocol.ts'
import { createIngestServer } from './server.ts'

/** How long /health and /metrics wait for the main thread before answering without it. */
const ASK_TIMEOUT_MS = 5000
/** A batch is at most this many updates: one statement, one commit, one fsync. */
const MAX_BATCH = 500

const port = parentPort!
const settings = workerData as IngestSettings
const tell = (message: FromIngest) => port.postMessage(message)
const log = createLogger({ level: settings.log.level, secrets: settings.log.secrets }).child({ component: 'ingest' })

const loopDelay = monitorEventLoopDelay({ resolution: 5 })
loopDelay.enable()
const registry = new Registry()
const acks = new Histogram({
  name: 'mechanic_webhook_ack_seconds',
  help: 'From a webhook request arriving to its answer, by outcome (stored, duplicate, refused, failed)',
  labelNames: ['outcome'],
  buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5],
  registers: [registry],
})
const batchSizes = new Histogram({ name: 'mechanic_ingest_batch_updates', help: 'Updates written by one commit of the ingest (group commit)', buckets: [1, 2, 5, 10, 25, 50, 100, 250, 500], registers: [registry] })
const writeFailures = new Counter({ name: 'mechanic_ingest_write_failures_total', help: 'Batches of updates the ingest could not store (answered 503; Telegram delivers them again)', registers: [registry] })
new Gauge({
  name: 'mechanic_ingest_event_loop_delay_seconds',
  help: "The ingest thread's event-loop delay since the last scrape, by quantile",
  labelNames: ['quantile'],
  registers: [registry],
  collect() {
    for (const [quantile, ns] of [['0.5', loopDelay.percentile(50)], ['0.99', loopDelay.percentile(99)], ['1', loopDelay.max]] as const) this.set({ quantile }, ns / 1e9)
    loopDelay.reset()
  },
})

/** Writes batches where this thread stores updates: its own Postgres connections, or the journal. */
function createStore(): { write: (updates: NewUpdate[]) => Promise<boolean[]>; parallel: number; moved?: (mark: JournalMark) => void; close: () => Promise<void> } {
  const { store } = settings
  if (store.kind === 'postgres') {
    const pool = new pg.Pool({ connectionString: store.url, max: 3, connectionTimeoutMillis: 5000, idleTimeoutMillis: 60_000 })
    pool.on('error', (err) => log.warn({ err }, 'idle database connection failed'))
    return {
      parallel: 2,
      async write(updates) {
        const fresh = await enqueueMany(pool, updates)
        const kinds = newKinds(updates, fresh)
        if (kinds.length) tell({ type: 'stored', kinds })
        return updates.map((u) => fresh.has(u.updateId))
      },
      close: () => pool.end(),
    }
  }
  const journal = JournalWriter.open(store.dir)
  return {
    // One file, appended in order: one write at a time.
    parallel: 1,
    async write(updates) {
      const mark = await journal.append(updates)
      tell({ type: 'journaled', mark, updates })
      // Whether it repeats an earlier delivery is known only once it is in the inbox.
      return updates.map(() => true)
    },
    moved: (mark) => journal.moved(mark),
    close: () => journal.close(),
  }
}

const store = createStore()
const commits = new GroupCommit<NewUpdate, boolean>(
  async (updates) => {
    batchSizes.observe(updates.length)
    try {
      return await store.write(updates)
    } catch (err) {
      writeFailures.inc()
      throw err
    }
  },
  { maxBatch: MAX_BATCH, parallel: store.parallel },
)

/** Set by the main thread's 'close': from then on nothing more is stored. */
let closing = false
let asked = 0
const answers = new Map<number, (m: ToIngest) => void>()
function ask(what: 'health' | 'metrics'): Promise<ToIngest | undefined> {
  const id = ++asked
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      answers.delete(id)
      resolve(undefined)
    }, ASK_TIMEOUT_MS)
    answers.set(id, (m) => {
      clearTimeout(timer)
      answers.delete(id)
      resolve(m)
    })
    tell({ type: 'ask', id, what })
  })
}

const server = createIngestServer({
  log,
  webhookSecret: settings.webhookSecret,
  // Once closing, nothing more is stored (a request that was reading its body then gets 503): what is
  // stored after the last batch was handed over could be lost with the journal the stop removes.
  store: ({ updateId, lane, kind, payload }: RoutedUpdate) => (closing ? Promise.reject(new Error('the ingest is closing')) : commits.add({ updateId, lane, kind, payload })),
  health: async () => {
    const m = await ask('health')
    return m?.type === 'health' ? m.report : undefined
  },
  metrics: async (): Promise<Answer> => {
    const m = await ask('metrics')
    const mine = await registry.metrics()
    const main = m?.type === 'metrics' ? m.answer : undefined
    if (!main) return { status: 503, contentType: registry.contentType, body: `# the main thread did not answer in time\n${mine}` }
    return { ...main, body: `${main.body}\n${mine}` }
  },
  ingestComponent: () => ({ eventLoopDelayP99Ms: Math.round(loopDelay.percentile(99) / 1e4) / 100, waiting: commits.waiting }),
  observe: (outcome, ms) => acks.observe({ outcome }, ms / 1000),
})

/** Everything the main thread says: answers to questions, moved journal batches, drain and close. */
port.on('message', (m: ToIngest) => {
  if (m.type === 'health' || m.type === 'metrics') answers.get(m.id)?.(m)
  else if (m.type === 'moved') store.moved?.(m.mark)
  else if (m.type === 'drain') server.draining = true
  else if (m.type === 'close') {
    closing = true
    server.draining = true
    server.close()
    server.closeIdleConnections()
    void commits
      .settled()
      .then(() => store.close())
      .catch((err: unknown) => log.warn({ err }, 'closing the ingest store failed'))
      .finally(() => {
        loopDelay.disable()
        tell({ type: 'closed' })
        port.close()
      })
  }
})

server.once('error', (err) => {
  throw err
})
server.listen(settings.port, settings.host, () => tell({ type: 'listening', port: (server.address() as AddressInfo).port }))
