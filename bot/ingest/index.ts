import { appendFileSync } from 'node:fs'
import { join } from 'node:path'
import { Worker } from 'node:worker_threads'
import type { Pool } from '../../db/database.ts'
import { enqueueMany, newKinds } from '../../db/inbox.ts'
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
/** How long a stop waits for the thread to finish the updates being written. */
const CLOSE_TIMEOUT_MS = 10_000
/** Where journaled updates the inbox refused are kept (beside the journal's segments, never replayed). */
const REJECTED_FILE = 'rejected.jsonl'
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
  /** Whether the current thread runs (it may have died and wait to be started again). */
  #alive = false
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
    // A thread that died (and is not started again now) has nothing to close.
    if (worker && this.#alive) {
      const closed = new Promise<void>((resolve) => {
        worker.on('message', (m: FromIngest) => m.type === 'closed' && resolve())
        worker.once('exit', () => resolve())
        setTimeout(resolve, CLOSE_TIMEOUT_MS).unref()
      })
      this.#post({ type: 'close' })
      await closed
    }
    await worker?.terminate()
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
    this.#alive = true
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
        if (this.#worker !== worker) return
        this.#alive = false
        if (this.#stopping) return
        this.#o.log.error({ code, restartInMs: RESTART_MS }, 'the ingest thread stopped; starting it again')
        setTimeout(() => void this.#restart(settings), RESTART_MS)
      })
    })
  }

  /**
   * Starts a thread again after one died. Embedded: the dead thread may have acknowledged a batch it
   * never handed over, so the journal is moved into the inbox as at a start (moving twice is
   * harmless) and emptied; the new thread begins a fresh one.
   */
  async #restart(settings: IngestSettings): Promise<void> {
    try {
      await this.#moving
      if (settings.store.kind === 'journal') await recoverJournal(this.#o.pool, settings.store.dir, this.#o.log, this.#o.onStored)
      if (!this.#stopping) await this.#spawn(settings)
    } catch (err) {
      this.#o.log.error({ err, retryInMs: RESTART_MS }, 'could not start the ingest thread again; retrying')
      if (!this.#stopping) setTimeout(() => void this.#restart(settings), RESTART_MS)
    }
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
    const { store } = this.#o.settings
    const dir = store.kind === 'journal' ? store.dir : ''
    for (let delay = 250; ; delay = Math.min(delay * 2, 5000)) {
      try {
        const fresh = await storeJournaled(this.#o.pool, updates, dir, this.#o.log)
        this.#post({ type: 'moved', mark })
        const kinds = newKinds(updates, fresh)
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

/**
 * Moves journaled updates into the inbox in one statement. When that fails while the database
 * answers, one of them is at fault (a payload Postgres refuses): they go one by one, and one that
 * still fails is kept in `rejected.jsonl` beside the journal and logged, so the updates behind it
 * are not held up. Throws only when the database does not answer (then the caller retries).
 */
async function storeJournaled(pool: Pool, updates: NewUpdate[], dir: string, log: Logger): Promise<Set<number>> {
  try {
    return await enqueueMany(pool, updates)
  } catch (err) {
    await pool.query('select 1') // unreachable: throws, and the batch is retried as a whole
    log.warn({ err, updates: updates.length }, 'a batch of journaled updates was refused; moving them one by one')
  }
  const fresh = new Set<number>()
  for (const update of updates) {
    try {
      for (const id of await enqueueMany(pool, [update])) fresh.add(id)
    } catch (err) {
      appendFileSync(join(dir, REJECTED_FILE), `${JSON.stringify(update)}\n`)
      log.error({ err, updateId: update.updateId, lane: update.lane, kind: update.kind, keptIn: REJECTED_FILE }, 'the inbox refused a journaled update; it is kept aside')
    }
  }
  return fresh
}

/** Moves a journal left by an earlier run (a crash, a stop before the last batch moved) into the inbox. */
async function recoverJournal(pool: Pool, dir: string, log: Logger, onStored: (kinds: string[]) => void): Promise<void> {
  const { updates, files, unreadable } = readJournal(dir)
  if (files.length === 0) return
  let fresh = 0
  for (let i = 0; i < updates.length; i += RECOVERY_CHUNK) {
    const chunk = updates.slice(i, i + RECOVERY_CHUNK)
    const ids = await storeJournaled(pool, chunk, dir, log)
    fresh += ids.size
    const kinds = newKinds(chunk, ids)
    if (kinds.length) onStored(kinds)
  }
  removeJournalFiles(files)
  log.info({ journaled: updates.length, new: fresh, unreadable }, 'moved journaled updates into the inbox')
}
