import { Worker } from 'node:worker_threads'
import type { Pool } from '../../db/database.ts'
import { enqueueMany } from '../../db/inbox.ts'
import type { NewUpdate } from '../../db/inbox.ts'
import { journalFiles, readJournal, removeJournalFiles } from '../../db/journal.ts'
import type { JournalMark } from '../../db/journal.ts'
import type { Logger } from '../../logger.ts'
import type { Answer, FromIngest, HealthReport, IngestSettings, ToIngest } from './protocol.ts'

export { WEBHOOK_PATH } from './server.ts'
export type { IngestSettings } from './protocol.ts'

// The thread's file beside this one: .ts when run from source, .js when built.
const THREAD = new URL(`./thread${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url)
/** A thread that dies is started again after this long. */
const RESTART_MS = 1000
/** Rows per statement when moving a journal left by an earlier run. */
const RECOVERY_CHUNK = 500
/**
 * The thread allocates little and briefly (a request, a batch). V8 sizes a young generation from the
 * machine's memory (over 100 MB on a large host), resident once a burst has touched it; this bound
 * keeps the thread's share of the RSS small without slowing its collections measurably.
 */
const THREAD_YOUNG_GENERATION_MB = 12

export interface IngestOptions {
  settings: IngestSettings
  pool: Pool
  log: Logger
  health: () => Promise<HealthReport>
  metrics: () => Promise<Answer>
  /** New updates are in the inbox (their kinds): count them and wake the dispatcher. */
  onStored: (kinds: string[]) => void
}

/**
 * The main thread's side of the ingest: starts the thread that answers HTTP (see thread.ts),
 * answers its questions (/health, /metrics), and on the embedded database moves what the thread
 * journaled into the inbox, one statement per batch, in order.
 */
export class IngestThread {
  readonly #o: IngestOptions
  #worker: Worker | undefined
  #port = 0
  #stopping = false
  /** Journal batches are moved one after the other, in the order they were written. */
  #moving: Promise<void> = Promise.resolve()
  /** Batches given up on at shutdown: they stay journaled for the next start. */
  #unmoved = 0

  private constructor(o: IngestOptions) {
    this.#o = o
  }

  /** Moves what an earlier run journaled into the inbox, then starts the thread; resolves once it listens. */
  static async start(o: IngestOptions): Promise<IngestThread> {
    if (o.settings.store.kind === 'journal') await recoverJournal(o.pool, o.settings.store.dir, o.log, o.onStored)
    const ingest = new IngestThread(o)
    await ingest.#spawn(o.settings)
    return ingest
  }

  get port(): number {
    return this.#port
  }

  /** New webhook requests are refused (503) from now on: Telegram delivers them to the next instance. */
  drain(): void {
    this.#post({ type: 'drain' })
  }

  /** Closes the server, waits for the updates being written, and for the last batches to be moved. */
  async stop(): Promise<void> {
    this.#stopping = true
    const worker = this.#worker
    if (worker) {
      const closed = new Promise<void>((resolve) => {
        worker.on('message', (m: FromIngest) => m.type === 'closed' && resolve())
        worker.once('exit', () => resolve())
      })
      this.#post({ type: 'close' })
      const timeout = setTimeout(() => void worker.terminate(), 10_000)
      await closed
      clearTimeout(timeout)
      await worker.terminate()
    }
    await this.#moving
    // The thread is gone: what is left in the journal is in the inbox, unless a batch could not move.
    const { store } = this.#o.settings
    if (store.kind === 'journal' && this.#unmoved === 0) removeJournalFiles(journalFiles(store.dir))
  }

  #spawn(settings: IngestSettings): Promise<void> {
    // Port 0 means "any free port": a restarted thread keeps the one the first was given.
    const worker = new Worker(THREAD, {
      workerData: { ...settings, port: this.#port || settings.port } satisfies IngestSettings,
      resourceLimits: { maxYoungGenerationSizeMb: THREAD_YOUNG_GENERATION_MB },
    })
    this.#worker = worker
    return new Promise<void>((resolve, reject) => {
      worker.on('message', (m: FromIngest) => {
        if (m.type === 'listening') {
          this.#port = m.port
          resolve()
        } else this.#onMessage(m)
      })
      worker.once('error', (err: Error) => {
        this.#o.log.error({ err }, 'the ingest thread failed')
        reject(err)
      })
      worker.once('exit', (code) => {
        if (this.#stopping || this.#worker !== worker) return
        this.#o.log.error({ code, restartInMs: RESTART_MS }, 'the ingest thread stopped; starting it again')
        setTimeout(() => {
          if (!this.#stopping) this.#spawn(settings).catch((err: unknown) => this.#o.log.error({ err }, 'could not start the ingest thread again'))
        }, RESTART_MS)
      })
    })
  }

  #post(m: ToIngest): void {
    this.#worker?.postMessage(m)
  }

  #onMessage(m: FromIngest): void {
    if (m.type === 'stored') this.#o.onStored(m.kinds)
    else if (m.type === 'journaled') this.#moving = this.#moving.then(() => this.#move(m.mark, m.updates))
    else if (m.type === 'ask' && m.what === 'health') {
      this.#o.health().then(
        (report) => this.#post({ type: 'health', id: m.id, report }),
        (err: unknown) => {
          this.#o.log.error({ err }, 'could not build /health')
          this.#post({ type: 'health', id: m.id, report: undefined })
        },
      )
    } else if (m.type === 'ask' && m.what === 'metrics') {
      this.#o.metrics().then(
        (answer) => this.#post({ type: 'metrics', id: m.id, answer }),
        (err: unknown) => {
          this.#o.log.error({ err }, 'could not render /metrics')
          this.#post({ type: 'metrics', id: m.id, answer: undefined })
        },
      )
    }
  }

  /** Moves one journaled batch into the inbox, retrying while the database is away (it stays journaled). */
  async #move(mark: JournalMark, updates: NewUpdate[]): Promise<void> {
    for (let delay = 250; ; delay = Math.min(delay * 2, 5000)) {
      try {
        const fresh = await enqueueMany(this.#o.pool, updates)
        this.#post({ type: 'moved', mark })
        const kinds = updates.filter((u) => fresh.has(u.updateId)).map((u) => u.kind)
        if (kinds.length) this.#o.onStored(kinds)
        return
      } catch (err) {
        // Stopping: the journal keeps the batch, and the next start moves it.
        if (this.#stopping) {
          this.#unmoved++
          return
        }
        this.#o.log.warn({ err, retryInMs: delay, updates: updates.length }, 'could not move journaled updates into the inbox; retrying')
        await new Promise((r) => setTimeout(r, delay))
      }
    }
  }
}

/** Moves a journal left by an earlier run (a crash, a stop before the last batch moved) into the inbox. */
async function recoverJournal(pool: Pool, dir: string, log: Logger, onStored: (kinds: string[]) => void): Promise<void> {
  const { updates, files, unreadable } = readJournal(dir)
  if (files.length === 0) return
  let fresh = 0
  for (let i = 0; i < updates.length; i += RECOVERY_CHUNK) {
    const chunk = updates.slice(i, i + RECOVERY_CHUNK)
    const ids = await enqueueMany(pool, chunk)
    fresh += ids.size
    const kinds = chunk.filter((u) => ids.has(u.updateId)).map((u) => u.kind)
    if (kinds.length) onStored(kinds)
  }
  removeJournalFiles(files)
  log.info({ journaled: updates.length, new: fresh, unreadable }, 'moved journaled updates into the inbox')
}
