// npm run bench (overload part): the service pushed past what it can answer, on the embedded
// database and, when TEST_DATABASE_URL is set, on native Postgres, with a model that answers at once.
//   1. Overload: an open-loop generator posts OVERLOAD_RATE updates/s (default 500) for
//      OVERLOAD_SECONDS (default 4) from 200 chats through a keep-alive agent of at most 40 sockets,
//      as Telegram does; webhook ack latency, unanswered POSTs (15 s) and errors, against a bare
//      node:http server hit by the same generator in the same run (before the engines, nothing else
//      running). The generator runs in a worker thread of its own, away from the emulators here.
//   2. Saturation throughput: from the first POST until every acknowledged update's reply reached the
//      Telegram emulator; turns/s and the service's CPU ms per turn.
//   3. Turn overhead one at a time (zero model latency), 4. SQL statements per turn (raw, and net of
//      the idle rate), 5. a bare LangGraph graph (ChatOpenAI + PostgresSaver) in this process as the
//      floor for CPU per turn, 6. cold start on an existing database and idle RSS.
// Prints one table per section and writes bench/results/overload-*.json.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Worker } from 'node:worker_threads'
import { HumanMessage } from '@langchain/core/messages'
import { END, MessagesAnnotation, START, StateGraph } from '@langchain/langgraph'
import { PostgresSaver } from '@langchain/langgraph-checkpoint-postgres'
import { ChatOpenAI } from '@langchain/openai'
import pg from 'pg'
import { TEST_DATABASE_URL } from '../test/support/database.ts'
import { Harness, LLM_KEY, WEBHOOK_SECRET } from '../test/support/harness.ts'
import { sleep, waitUntil } from '../test/support/http.ts'
import { lastUserText } from '../test/support/openai-emulator.ts'
import type { ServiceProcess } from '../test/support/service.ts'
import { bareServer, echoReply, figures, printTable, timedTurn, writeResult } from './report.ts'
import type { Figures } from './report.ts'

const RATE = Number(process.env.OVERLOAD_RATE ?? 500)
const SECONDS = Number(process.env.OVERLOAD_SECONDS ?? 4)
const CHATS = 200
const MAX_SOCKETS = 40 // Telegram keeps up to 40 webhook connections
const ACK_TIMEOUT_MS = 15_000
const DRAIN_TIMEOUT_MS = 240_000
const SEQUENTIAL_TURNS = 50
const IDLE_WINDOW_MS = 5_000
const BARE_GRAPH_TURNS = 200
const BARE_GRAPH_WARMUP = 5
/** The bare graph's turns go to this many threads, so its threads carry a history as long as the service's chats do in the overload (ten turns each). */
const BARE_GRAPH_THREADS = 20
const RSS_IDLE_MS = 3_000
const OVERLOAD_USER = 30_000
const TURN_USER = 40_000
const MODEL = 'test-model'

const round = (x: number, decimals = 2) => Math.round(x * 10 ** decimals) / 10 ** decimals
const ratio = (a: number, b: number) => (b > 0 ? `${(a / b).toFixed(1)}x` : '-')

// --- the webhook, as Telegram calls it -------------------------------------------------------

interface AckSample {
  ms: number
  status: number | undefined
  outcome: 'answered' | 'unanswered' | 'error'
  error?: string
}

interface Overload {
  samples: AckSample[]
  /** Date.now() of the first POST. */
  firstAtWall: number
  /** How late the generator fired its latest POST against the schedule. */
  maxFireLagMs: number
  /** The generator thread's worst event-loop lag from the first POST until every POST ended (a 2 ms timer's lateness). */
  maxLoopLagMs: number
}

interface GeneratorJob {
  url: string
  secret: string
  bodies: readonly string[]
  rate: number
  maxSockets: number
  ackTimeoutMs: number
}

type GeneratorReply = { ok: true; run: Overload } | { ok: false; error: string }

/**
 * The open-loop generator, run in a worker thread of its own (see Generator): this thread also runs
 * the Telegram and OpenAI emulators, which the service calls on every turn during the overload, and
 * their work would delay the POSTs and their timing. Shipped to the worker as source text (Node's
 * type stripping leaves plain JavaScript), so it uses nothing from outside its body but types.
 * Per job: fires bodies[i] at start + i/rate s through a keep-alive agent of maxSockets whatever the
 * answers, times each POST until its whole response is read, after ackTimeoutMs unanswered, or on a
 * connection error, then replies with the samples.
 */
function generatorThread(): void {
  const { parentPort } = process.getBuiltinModule('node:worker_threads')
  const http = process.getBuiltinModule('node:http')
  if (!parentPort) throw new Error('generatorThread runs in a worker')
  const port = parentPort
  const round = (x: number) => Math.round(x * 100) / 100
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

  async function run(job: GeneratorJob): Promise<Overload> {
    const url = new URL(job.url)
    const agent = new http.Agent({ keepAlive: true, maxSockets: job.maxSockets })
    const post = (body: string) => new Promise<AckSample>((resolve) => {
      const t0 = performance.now()
      let settled = false
      const settle = (sample: Omit<AckSample, 'ms'>) => {
        if (settled) return
        settled = true
        clearTimeout(timer)
        resolve({ ms: performance.now() - t0, ...sample })
      }
      const req = http.request(url, {
        method: 'POST',
        agent,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'x-telegram-bot-api-secret-token': job.secret },
      }, (res) => {
        res.resume()
        res.on('end', () => settle({ status: res.statusCode, outcome: 'answered' }))
        res.on('error', (err) => settle({ status: res.statusCode, outcome: 'error', error: err.message }))
      })
      const timer = setTimeout(() => {
        settle({ status: undefined, outcome: 'unanswered' })
        req.destroy() // Telegram gives up on a webhook call that takes too long, and frees the connection
      }, job.ackTimeoutMs)
      req.on('error', (err) => settle({ status: undefined, outcome: 'error', error: (err as NodeJS.ErrnoException).code ?? err.message }))
      req.end(body)
    })
    // The loop-lag probe: a 2 ms timer, and how late it fires.
    let maxLoopLagMs = 0
    let due = performance.now() + 2
    let probe: NodeJS.Timeout | undefined
    const tick = () => {
      const now = performance.now()
      maxLoopLagMs = Math.max(maxLoopLagMs, now - due)
      due = now + 2
      probe = setTimeout(tick, 2)
    }
    try {
      const interval = 1000 / job.rate
      const pending: Array<Promise<AckSample>> = []
      let maxFireLagMs = 0
      const firstAtWall = Date.now()
      const start = performance.now()
      due = start + 2
      probe = setTimeout(tick, 2)
      let i = 0
      while (i < job.bodies.length) {
        const now = performance.now()
        while (i < job.bodies.length && start + i * interval <= now) {
          maxFireLagMs = Math.max(maxFireLagMs, now - (start + i * interval))
          pending.push(post(job.bodies[i]!))
          i++
        }
        if (i < job.bodies.length) await sleep(Math.max(0, start + i * interval - performance.now()))
      }
      const samples = await Promise.all(pending)
      return { samples, firstAtWall, maxFireLagMs: round(maxFireLagMs), maxLoopLagMs: round(maxLoopLagMs) }
    } finally {
      clearTimeout(probe)
      agent.destroy()
    }
  }

  port.on('message', (job: GeneratorJob) => {
    run(job).then(
      (result) => port.postMessage({ ok: true, run: result } satisfies GeneratorReply),
      (err: unknown) => port.postMessage({ ok: false, error: String(err) } satisfies GeneratorReply),
    )
  })
}

/** One generator thread for every overload of the run (the bare floor and each engine), one job at a time. */
class Generator {
  private readonly worker = new Worker(`(${generatorThread.toString()})()`, { eval: true })

  /** Fires bodies[i] at start + i/RATE s whatever the answers (open loop), then waits for every POST to end. */
  overload(url: URL, bodies: readonly string[]): Promise<Overload> {
    const job: GeneratorJob = { url: url.toString(), secret: WEBHOOK_SECRET, bodies, rate: RATE, maxSockets: MAX_SOCKETS, ackTimeoutMs: ACK_TIMEOUT_MS }
    return new Promise((resolve, reject) => {
      const onError = (err: Error) => {
        this.worker.off('message', onMessage)
        reject(err)
      }
      const onMessage = (reply: GeneratorReply) => {
        this.worker.off('error', onError)
        if (reply.ok) resolve(reply.run)
        else reject(new Error(`the generator failed: ${reply.error}`))
      }
      this.worker.once('message', onMessage)
      this.worker.once('error', onError)
      this.worker.postMessage(job)
    })
  }

  async close(): Promise<void> {
    await this.worker.terminate()
  }
}

interface AckFigures extends Figures {
  max: number
  posts: number
  ok: number
  unanswered: number
  errors: number
  statuses: Record<string, number>
  errorCodes: Record<string, number>
  maxFireLagMs: number
  maxLoopLagMs: number
}

function ackFigures(run: Overload): AckFigures {
  const answered = run.samples.filter((s) => s.outcome === 'answered')
  const count = (keys: string[]) => keys.reduce<Record<string, number>>((acc, k) => ({ ...acc, [k]: (acc[k] ?? 0) + 1 }), {})
  return {
    ...figures(answered.map((s) => s.ms)),
    max: round(Math.max(0, ...answered.map((s) => s.ms))),
    posts: run.samples.length,
    ok: answered.filter((s) => s.status === 200).length,
    unanswered: run.samples.filter((s) => s.outcome === 'unanswered').length,
    errors: run.samples.filter((s) => s.outcome === 'error').length,
    statuses: count(answered.map((s) => String(s.status))),
    errorCodes: count(run.samples.filter((s) => s.outcome === 'error').map((s) => s.error ?? '?')),
    maxFireLagMs: run.maxFireLagMs,
    maxLoopLagMs: run.maxLoopLagMs,
  }
}

// --- the service's /metrics ------------------------------------------------------------------

type Samples = Map<string, number>

/** The samples of a Prometheus text exposition, by series (`name{labels}`). */
async function scrape(service: ServiceProcess): Promise<Samples> {
  const res = await fetch(`${service.url}/metrics`)
  if (res.status !== 200) throw new Error(`/metrics answered ${res.status}`)
  const samples: Samples = new Map()
  for (const line of (await res.text()).split('\n')) {
    if (!line || line.startsWith('#')) continue
    const at = line.lastIndexOf(' ')
    samples.set(line.slice(0, at), Number(line.slice(at + 1)))
  }
  return samples
}

/** The sum of a metric's series (all labels). */
function metric(samples: Samples, name: string): number {
  let sum = 0
  let found = false
  for (const [series, value] of samples) {
    if (series === name || series.startsWith(`${name}{`)) {
      sum += value
      found = true
    }
  }
  if (!found) throw new Error(`/metrics has no ${name}`)
  return sum
}

const EVENT_LOOP_PREFIX = 'mechanic_ingest_event_loop'

/** The series named mechanic_ingest_event_loop* (a metric to come), shortened for a table cell; '-' when absent. */
function eventLoopSeries(samples: Samples): { cell: string; series: Record<string, number> } {
  const series = Object.fromEntries([...samples].filter(([name]) => name.startsWith(EVENT_LOOP_PREFIX)))
  const names = Object.keys(series)
  if (!names.length) return { cell: '-', series }
  const pick = names.filter((n) => !n.includes('_bucket'))
  const cell = pick.map((n) => `${n.slice(EVENT_LOOP_PREFIX.length) || n}=${round(series[n]!, 4)}`).join(' ')
  return { cell, series }
}

// --- the bare graph: LangGraph + ChatOpenAI + PostgresSaver, nothing of ours -------------------

async function bareGraph(baseURL: string, pool: pg.Pool): Promise<{ wall: Figures; cpuMsPerTurn: number; turns: number }> {
  const checkpointer = new PostgresSaver(pool)
  await checkpointer.setup()
  const model = new ChatOpenAI({ model: MODEL, apiKey: LLM_KEY, configuration: { baseURL }, maxRetries: 0 })
  const graph = new StateGraph(MessagesAnnotation)
    .addNode('agent', async (state) => ({ messages: [await model.invoke(state.messages)] }))
    .addEdge(START, 'agent')
    .addEdge('agent', END)
    .compile({ checkpointer })
  const turn = (thread: string, text: string) => graph.invoke({ messages: [new HumanMessage(text)] }, { configurable: { thread_id: thread } })
  for (let i = 0; i < BARE_GRAPH_WARMUP; i++) await turn(`bare-warmup-${i}`, `warm up ${i}`)
  const walls: number[] = []
  const cpu0 = process.cpuUsage()
  for (let i = 0; i < BARE_GRAPH_TURNS; i++) {
    const t0 = performance.now()
    const out = await turn(`bare-${i % BARE_GRAPH_THREADS}`, `bare turn ${i}`)
    walls.push(performance.now() - t0)
    if (out.messages.at(-1)?.content !== `echo: bare turn ${i}`) throw new Error(`the bare graph got an unexpected answer: ${JSON.stringify(out.messages.at(-1)?.content)}`)
  }
  const cpu = process.cpuUsage(cpu0)
  return { wall: figures(walls), cpuMsPerTurn: round((cpu.user + cpu.system) / 1000 / BARE_GRAPH_TURNS, 3), turns: BARE_GRAPH_TURNS }
}

/** The bare graph on a PGlite of its own (a pg Pool of one client over it, as db/database.ts builds the embedded one). */
async function bareGraphEmbedded(baseURL: string) {
  const dir = mkdtempSync(join(tmpdir(), 'mechanic-bare-graph-'))
  const [{ PGlite }, { createPgConfig }] = await Promise.all([import('@electric-sql/pglite'), import('@electric-sql/pglite/node-postgres')])
  const db = await PGlite.create(join(dir, 'pglite'))
  const pool = new pg.Pool({ ...createPgConfig(db), max: 1, idleTimeoutMillis: 0 })
  try {
    return await bareGraph(baseURL, pool)
  } finally {
    await pool.end()
    await db.close()
    rmSync(dir, { recursive: true, force: true })
  }
}

/** The bare graph on the harness's native database (its checkpoint tables; thread ids of its own). */
async function bareGraphNative(baseURL: string, url: string) {
  const pool = new pg.Pool({ connectionString: url, max: 10 })
  try {
    return await bareGraph(baseURL, pool)
  } finally {
    await pool.end()
  }
}

// --- one engine --------------------------------------------------------------------------------


async function benchEngine(generator: Generator, embedded: boolean) {
  const engine = embedded ? 'embedded PGlite' : 'native Postgres'
  console.log(`\n${engine}: starting`)
  const h = await Harness.create({ embedded })
  try {
    h.openai.respondWith((req) => ({ content: `echo: ${lastUserText(req)}`, delayMs: 0 }))
    const users = [...Array.from({ length: CHATS }, (_, i) => OVERLOAD_USER + i), ...Array.from({ length: SEQUENTIAL_TURNS }, (_, i) => TURN_USER + i)]
    const env = { LOG_LEVEL: 'info', ALLOWED_USER_IDS: users.join(',') }
    let service = await h.startService(env)

    // 1 + 2. Overload, then the drain of everything it left in the inbox.
    const texts = Array.from({ length: RATE * SECONDS }, (_, i) => `overload ${i}`)
    const bodies = texts.map((text, i) => JSON.stringify(h.text(text, { userId: OVERLOAD_USER + (i % CHATS) })))
    const before = await scrape(service)
    const sentBefore = h.telegram.callsOf('sendMessage').length
    console.log(`${engine}: overload, ${RATE}/s for ${SECONDS} s`)
    const run = await generator.overload(new URL(`${service.url}/telegram/webhook`), bodies)
    const ack = ackFigures(run)
    // The updates the service took (200); each gets one reply in its chat.
    const expected = new Set(texts.filter((_, i) => run.samples[i]!.status === 200).map(echoReply))
    const seen = new Map<string, number>()
    let scanned = sentBefore
    console.log(`${engine}: ${ack.ok} acknowledged (${ack.unanswered} unanswered, ${ack.errors} errors); waiting for their replies`)
    await waitUntil(() => {
      const calls = h.telegram.callsOf('sendMessage')
      for (; scanned < calls.length; scanned++) {
        const call = calls[scanned]!
        const text = String(call.params.text)
        if (expected.has(text) && !seen.has(text)) seen.set(text, call.at)
      }
      return seen.size === expected.size
    }, `${expected.size} replies (have ${seen.size})`, DRAIN_TIMEOUT_MS)
    const after = await scrape(service)
    const lastReplyAt = Math.max(...seen.values())
    const drainSeconds = (lastReplyAt - run.firstAtWall) / 1000
    const cpuSeconds = metric(after, 'mechanic_process_cpu_seconds_total') - metric(before, 'mechanic_process_cpu_seconds_total')
    const saturation = {
      turns: seen.size,
      drainSeconds: round(drainSeconds),
      turnsPerSecond: round(seen.size / drainSeconds, 1),
      serviceCpuSeconds: round(cpuSeconds, 3),
      serviceCpuMsPerTurn: round((cpuSeconds * 1000) / seen.size, 3),
      dbStatementsPerTurn: round((metric(after, 'mechanic_db_statements_total') - metric(before, 'mechanic_db_statements_total')) / seen.size, 1),
    }
    const eventLoop = eventLoopSeries(after)
    await service.drained(30_000)

    // 4 (idle part). Statements the process sends on its own, before the sequential turns.
    const idle0 = await scrape(service)
    const idleStart = performance.now()
    await sleep(IDLE_WINDOW_MS)
    const idle1 = await scrape(service)
    const idleStatementsPerSecond = (metric(idle1, 'mechanic_db_statements_total') - metric(idle0, 'mechanic_db_statements_total')) / ((performance.now() - idleStart) / 1000)

    // 3 + 4. One turn at a time, over chats that have not spoken yet.
    console.log(`${engine}: ${SEQUENTIAL_TURNS} turns one at a time`)
    const seq0 = await scrape(service)
    const seqStart = performance.now()
    const turnMs: number[] = []
    for (let c = 0; c < SEQUENTIAL_TURNS; c++) {
      turnMs.push(await timedTurn(h, service, `one at a time ${c}`, TURN_USER + c))
    }
    const seqSeconds = (performance.now() - seqStart) / 1000
    const seq1 = await scrape(service)
    const rawStatements = metric(seq1, 'mechanic_db_statements_total') - metric(seq0, 'mechanic_db_statements_total')
    const statements = {
      raw: round(rawStatements / SEQUENTIAL_TURNS, 1),
      net: round((rawStatements - idleStatementsPerSecond * seqSeconds) / SEQUENTIAL_TURNS, 1),
      idlePerSecond: round(idleStatementsPerSecond, 2),
      sequentialSeconds: round(seqSeconds),
    }

    // 6. Cold start on the data this run left, and the idle footprint.
    console.log(`${engine}: cold start`)
    const stopped = await service.stop()
    if (stopped.code !== 0) throw new Error(`the service exited with ${stopped.code ?? stopped.signal} on SIGTERM`)
    const spawnAt = performance.now()
    service = await h.startService(env)
    await waitUntil(async () => (await service.health()).status === 200, '/health to answer 200', 60_000)
    const coldStartMs = round(performance.now() - spawnAt, 0)
    await sleep(RSS_IDLE_MS)
    const idleRssMb = round(metric(await scrape(service), 'mechanic_process_resident_memory_bytes') / 2 ** 20, 1)
    await service.stop()

    // 5. The bare graph on the same engine, with the service stopped.
    console.log(`${engine}: bare graph, ${BARE_GRAPH_TURNS} turns`)
    const bare = embedded ? await bareGraphEmbedded(h.openai.baseUrl) : await bareGraphNative(h.openai.baseUrl, h.db.url!)

    return { engine, ack, saturation, eventLoop, sequential: figures(turnMs), statements, coldStartMs, idleRssMb, bareGraph: bare }
  } finally {
    await h.close()
  }
}

/** The floor: a bare node:http server that answers 200 `{}` after reading the body, no database. */
async function bareHttp(generator: Generator): Promise<AckFigures> {
  const { url, close } = await bareServer()
  try {
    const shape = new Harness() // not started: only its update builder
    const bodies = Array.from({ length: RATE * SECONDS }, (_, i) => JSON.stringify(shape.text(`overload ${i}`, { userId: OVERLOAD_USER + (i % CHATS) })))
    const target = new URL(`${url}/telegram/webhook`)
    // One second of the same load first, not counted: the generator's own code is compiled by then.
    await generator.overload(target, bodies.slice(0, RATE))
    return ackFigures(await generator.overload(target, bodies))
  } finally {
    await close()
  }
}

// --- the run -------------------------------------------------------------------------------------

const started = performance.now()
const generator = new Generator()
try {
  console.log(`bare node:http: overload, ${RATE}/s for ${SECONDS} s`)
  const bare = await bareHttp(generator)
  const runs = [await benchEngine(generator, true)]
  if (TEST_DATABASE_URL) runs.push(await benchEngine(generator, false))
  else console.log('TEST_DATABASE_URL is not set: native Postgres skipped (run .ci/postgres.sh to get one).')

  console.log(`\n1. Overload: ${RATE} updates/s for ${SECONDS} s from ${CHATS} chats, keep-alive agent of ${MAX_SOCKETS} sockets (ack = until the whole response; unanswered = none in ${ACK_TIMEOUT_MS / 1000} s)`)
  printTable([
    ['engine', 'posts', 'ack p50 ms', 'p99 ms', 'max ms', 'unanswered', 'errors', 'non-200', 'p50 vs bare', 'p99 vs bare', 'generator lag ms (fire / loop max)', `${EVENT_LOOP_PREFIX}*`],
    ['bare node:http (floor)', bare.posts, bare.p50, bare.p99, bare.max, bare.unanswered, bare.errors, bare.posts - bare.ok - bare.unanswered - bare.errors, '1.0x', '1.0x', `${bare.maxFireLagMs} / ${bare.maxLoopLagMs}`, '-'],
    ...runs.map((r) => [r.engine, r.ack.posts, r.ack.p50, r.ack.p99, r.ack.max, r.ack.unanswered, r.ack.errors, r.ack.posts - r.ack.ok - r.ack.unanswered - r.ack.errors, ratio(r.ack.p50, bare.p50), ratio(r.ack.p99, bare.p99), `${r.ack.maxFireLagMs} / ${r.ack.maxLoopLagMs}`, r.eventLoop.cell]),
  ])

  console.log('\n2. Saturation throughput: first POST until the reply to every acknowledged update reached the Telegram emulator (sendMessage)')
  printTable([
    ['engine', 'turns', 'drain s', 'turns/s', 'service CPU s', 'service CPU ms/turn', 'SQL statements/turn', 'vs bare graph CPU'],
    ...runs.map((r) => [r.engine, r.saturation.turns, r.saturation.drainSeconds, r.saturation.turnsPerSecond, r.saturation.serviceCpuSeconds, r.saturation.serviceCpuMsPerTurn, r.saturation.dbStatementsPerTurn, ratio(r.saturation.serviceCpuMsPerTurn, r.bareGraph.cpuMsPerTurn)]),
    ...runs.map((r) => [`bare graph (${r.engine})`, r.bareGraph.turns, '-', round(1000 / r.bareGraph.wall.mean, 1), '-', r.bareGraph.cpuMsPerTurn, '-', '1.0x']),
  ])

  console.log(`\n3. Turn overhead one at a time: ${SEQUENTIAL_TURNS} turns over distinct chats, model answering at once (POST to reply)`)
  printTable([
    ['engine', 'turn p50 ms', 'p99 ms', 'mean ms'],
    ...runs.map((r) => [r.engine, r.sequential.p50, r.sequential.p99, r.sequential.mean]),
    ...runs.map((r) => [`bare graph (${r.engine}), turn wall`, r.bareGraph.wall.p50, r.bareGraph.wall.p99, r.bareGraph.wall.mean]),
  ])

  console.log(`\n4. SQL statements per plain turn (mechanic_db_statements_total over the sequential turns; net of the rate over ${IDLE_WINDOW_MS / 1000} s idle before)`)
  printTable([
    ['engine', 'raw per turn', 'net per turn', 'idle statements/s', 'sequential run s'],
    ...runs.map((r) => [r.engine, r.statements.raw, r.statements.net, r.statements.idlePerSecond, r.statements.sequentialSeconds]),
  ])

  console.log(`\n5. Bare graph in this process: StateGraph(MessagesAnnotation) + ChatOpenAI (emulator) + PostgresSaver, ${BARE_GRAPH_TURNS} turns over ${BARE_GRAPH_THREADS} threads (ten each, as the service's chats in the overload)`)
  printTable([
    ['engine', 'turn p50 ms', 'p99 ms', 'CPU ms/turn', 'service CPU ms/turn', 'service / bare'],
    ...runs.map((r) => [r.engine, r.bareGraph.wall.p50, r.bareGraph.wall.p99, r.bareGraph.cpuMsPerTurn, r.saturation.serviceCpuMsPerTurn, ratio(r.saturation.serviceCpuMsPerTurn, r.bareGraph.cpuMsPerTurn)]),
  ])

  console.log(`\n6. Cold start on the existing data (spawn to /health 200) and RSS after ${RSS_IDLE_MS / 1000} s idle`)
  printTable([
    ['engine', 'cold start ms', 'idle RSS MB'],
    ...runs.map((r) => [r.engine, r.coldStartMs, r.idleRssMb]),
  ])

  const totalSeconds = round((performance.now() - started) / 1000, 1)
  console.log(`\ntotal ${totalSeconds} s`)
  writeResult('overload', {
    settings: { rate: RATE, seconds: SECONDS, chats: CHATS, maxSockets: MAX_SOCKETS, ackTimeoutMs: ACK_TIMEOUT_MS, generator: 'a worker thread of its own', sequentialTurns: SEQUENTIAL_TURNS, idleWindowMs: IDLE_WINDOW_MS, bareGraphTurns: BARE_GRAPH_TURNS, rssIdleMs: RSS_IDLE_MS, modelLatencyMs: 0, drainEnd: 'last reply seen by the Telegram emulator (sendMessage)' },
    totalSeconds,
    bareHttp: bare,
    runs,
  })
} catch (err) {
  console.error('overload bench failed:', err)
  process.exitCode = 1
} finally {
  await generator.close()
}
