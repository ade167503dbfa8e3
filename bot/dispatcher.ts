import { AsyncLocalStorage } from 'node:async_hooks'
import { randomUUID } from 'node:crypto'
import { hostname } from 'node:os'
import type { Pool } from '../db/database.ts'
import * as inbox from '../db/inbox.ts'
import type { InboxRow } from '../db/inbox.ts'
import type { Logger } from '../logger.ts'

export interface DispatcherOptions {
  pool: Pool
  log: Logger
  /** Handles one update; throwing means "try again later". */
  handle: (row: InboxRow) => Promise<void>
  /** Called once when an update has failed for good, to tell the person. */
  onGiveUp: (row: InboxRow, error: string) => Promise<void>
  /** Told how each attempt ended and how long it took (metrics). */
  onOutcome?: (row: InboxRow, outcome: 'done' | 'retry' | 'failed', ms: number) => void
  leaseMs: number
  maxAttempts: number
  concurrency: number
  pollMs: number
}

/** Finished updates are kept this long to recognise a late duplicate delivery, then deleted. */
const KEEP_FINISHED_DAYS = 7
const PRUNE_EVERY_MS = 10 * 60_000

const errorText = (err: unknown) => (err instanceof Error ? `${err.name}: ${err.message}` : String(err))

/**
 * Runs stored updates: claims the oldest update of each lane that has none running, at most
 * `concurrency` at a time, keeps their leases alive while they run, and records the outcome. Many
 * dispatchers (processes) can share one database; the inbox's claim query keeps lanes serial.
 */
export class Dispatcher {
  /** Identifies this process's claims; a new one per start so a restart never inherits a lease. */
  readonly claimant = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`
  readonly #o: DispatcherOptions
  readonly #active = new Map<number, Promise<void>>()
  #timer: NodeJS.Timeout | undefined
  #ticking = false
  #again = false
  #stopped = true
  #lastTickOk = 0
  #lastPrune = 0
  #lastError: string | undefined

  constructor(options: DispatcherOptions) {
    this.#o = options
  }

  start(): void {
    this.#stopped = false
    this.wake()
  }

  readonly #detached = AsyncLocalStorage.snapshot()

  /** Looks for work now (after a new update was stored) instead of at the next poll. */
  wake(): void {
    if (this.#stopped) return
    if (this.#ticking) {
      this.#again = true
      return
    }
    clearTimeout(this.#timer)
    // Handlers run in the context the dispatcher was made in: a wake from inside a graph run (a tool
    // that queued work) would otherwise make every later graph run a "subgraph" of that run.
    void this.#detached(() => this.#tick())
  }

  get active(): number {
    return this.#active.size
  }

  /** Healthy while ticks succeed; a database outage shows here within a few polls. */
  status(): { healthy: boolean; active: number; lastError: string | undefined } {
    const healthy = !this.#stopped && Date.now() - this.#lastTickOk < Math.max(this.#o.pollMs * 4, 5000)
    return { healthy, active: this.#active.size, lastError: healthy ? undefined : this.#lastError }
  }

  /**
   * Stops claiming, waits up to `graceMs` for running handlers, then hands back what is still
   * claimed so another process (or the next start) picks it up at once.
   */
  async stop(graceMs: number): Promise<void> {
    this.#stopped = true
    clearTimeout(this.#timer)
    const all = Promise.allSettled(this.#active.values())
    let timeout: NodeJS.Timeout | undefined
    const finished = await Promise.race([all.then(() => true), new Promise<false>((r) => (timeout = setTimeout(() => r(false), graceMs)))])
    clearTimeout(timeout)
    const released = await inbox.releaseClaims(this.#o.pool, this.claimant)
    this.#o.log.info({ finished, released }, 'dispatcher stopped')
  }

  async #tick(): Promise<void> {
    this.#ticking = true
    try {
      for (const row of await inbox.failExhausted(this.#o.pool, this.#o.maxAttempts)) {
        await this.#giveUp(row, 'the process handling it stopped')
      }
      if (Date.now() - this.#lastPrune > PRUNE_EVERY_MS) {
        this.#lastPrune = Date.now()
        const pruned = await inbox.prune(this.#o.pool, KEEP_FINISHED_DAYS)
        if (pruned) this.#o.log.info({ pruned }, 'old inbox rows deleted')
      }
      const free = this.#o.concurrency - this.#active.size
      if (free > 0 && !this.#stopped) {
        const rows = await inbox.claim(this.#o.pool, { limit: free, leaseMs: this.#o.leaseMs, claimant: this.claimant })
        for (const row of rows) this.#run(row)
      }
      this.#lastTickOk = Date.now()
    } catch (err) {
      this.#lastError = errorText(err)
      this.#o.log.error({ err }, 'dispatcher tick failed')
    } finally {
      this.#ticking = false
      if (!this.#stopped) {
        if (this.#again) {
          this.#again = false
          setImmediate(() => this.wake())
        } else {
          this.#timer = setTimeout(() => this.wake(), this.#o.pollMs)
        }
      }
    }
  }

  #run(row: InboxRow): void {
    const log = this.#o.log.child({ updateId: row.updateId, lane: row.lane, attempt: row.attempts })
    const heartbeat = setInterval(() => {
      void inbox.renewLease(this.#o.pool, row.updateId, this.claimant, this.#o.leaseMs).then(
        (ok) => ok || log.warn('lease lost: another process took this update over'),
        (err: unknown) => log.warn({ err }, 'lease renewal failed'),
      )
    }, Math.max(this.#o.leaseMs / 3, 250))
    const started = performance.now()
    const work = (async () => {
      try {
        await this.#o.handle(row)
        if (!(await inbox.complete(this.#o.pool, row.updateId, this.claimant))) log.warn('finished an update whose claim was lost')
        this.#o.onOutcome?.(row, 'done', performance.now() - started)
      } catch (err) {
        const status = await this.#recordFailure(row, err, log)
        this.#o.onOutcome?.(row, status === 'failed' ? 'failed' : 'retry', performance.now() - started)
      }
    })()
      .catch((err: unknown) => log.error({ err }, 'could not record the outcome of an update'))
      .finally(() => {
        clearInterval(heartbeat)
        this.#active.delete(row.updateId)
        this.wake()
      })
    this.#active.set(row.updateId, work)
  }

  async #recordFailure(row: InboxRow, err: unknown, log: Logger): Promise<string | undefined> {
    const error = errorText((err as { error?: unknown }).error ?? err) // unwrap grammY's BotError
    const retryInMs = Math.min(1000 * 2 ** (row.attempts - 1), 30_000)
    const status = await inbox.recordFailure(this.#o.pool, row.updateId, this.claimant, { error, retryInMs, maxAttempts: this.#o.maxAttempts })
    log.error({ err, status, retryInMs }, 'update failed')
    if (status === 'failed') await this.#giveUp(row, error)
    return status
  }

  async #giveUp(row: InboxRow, error: string): Promise<void> {
    this.#o.log.error({ updateId: row.updateId, lane: row.lane, attempts: row.attempts, error }, 'update failed for good')
    try {
      await this.#o.onGiveUp(row, error)
    } catch (err) {
      this.#o.log.warn({ err, updateId: row.updateId }, 'could not tell the person about a failed update')
    }
  }
}
