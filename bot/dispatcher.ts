import type { Pool } from '../db/database.ts'
import * as inbox from '../db/inbox.ts'
import type { InboxRow } from '../db/inbox.ts'
import type { Logger } from '../logger.ts'
import { LeasedWorker, errorText } from '../worker/leased-worker.ts'
import type { ClaimIdentity } from '../worker/leased-worker.ts'

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
  /**
   * Chats whose message has waited longer than `afterSeconds` behind a backlog, told once per
   * backlog (`afterSeconds` 0: never). Looked for with the housekeeping sweep.
   */
  behind?: { afterSeconds: number; tell: (lanes: inbox.LaneBehind[]) => void }
  /** The process's liveness lock (shared with the task runner): a dead process's updates are taken over at once. */
  liveness?: ClaimIdentity
}

/** Finished updates are kept this long to recognise a late duplicate delivery, then deleted. */
const KEEP_FINISHED_DAYS = 7
const PRUNE_EVERY_MS = 10 * 60_000
/**
 * The sweep for updates whose process died on their last attempt runs this often, not on every
 * poll: a poll follows every finished update, and the sweep was one statement of each turn.
 */
const SWEEP_EVERY_MS = 5000


/**
 * Runs stored updates: claims the oldest update of each lane that has none running, at most
 * `concurrency` at a time, keeps their leases alive while they run, and records the outcome. Many
 * dispatchers (processes) can share one database; the inbox's claim query keeps lanes serial.
 * The claim loop itself is the shared LeasedWorker.
 */
export class Dispatcher {
  readonly #o: DispatcherOptions
  readonly #worker: LeasedWorker<InboxRow>
  #lastPrune = 0
  #lastSweep = 0

  constructor(options: DispatcherOptions) {
    this.#o = options
    const { pool, leaseMs } = options
    this.#worker = new LeasedWorker<InboxRow>({
      name: 'dispatcher',
      log: options.log,
      concurrency: options.concurrency,
      pollMs: options.pollMs,
      renewEveryMs: Math.max(leaseMs / 3, 250),
      ...(options.liveness && { identity: options.liveness }),
      keyOf: (row) => String(row.updateId),
      housekeeping: () => this.#housekeeping(),
      claim: (limit, claimant) => inbox.claim(pool, { limit, leaseMs, claimant, maxAttempts: options.maxAttempts }),
      renew: async (row, claimant) => {
        if (await inbox.renewLease(pool, row.updateId, claimant, leaseMs)) return 'go'
        options.log.warn({ updateId: row.updateId, lane: row.lane }, 'lease lost: another process took this update over')
        return 'lost'
      },
      run: (row) => this.#handle(row),
      // A handler cannot be stopped half-way; its update goes back to the queue at once, and a late
      // finish cannot mark it done (complete is fenced by the claimant).
      handBack: (_unfinished, claimant) => inbox.releaseClaims(pool, claimant),
    })
  }

  /** Identifies this process's claims; a new one per start so a restart never inherits a lease. */
  get claimant(): string {
    return this.#worker.claimant
  }

  start(): void {
    this.#worker.start()
  }

  /** Looks for work now (after a new update was stored) instead of at the next poll. */
  wake(): void {
    this.#worker.wake()
  }

  get active(): number {
    return this.#worker.active
  }

  /** Healthy while ticks succeed; a database outage shows here within a few polls. */
  status(): { healthy: boolean; active: number; lastError: string | undefined } {
    return this.#worker.status()
  }

  /**
   * Stops claiming, waits up to `graceMs` for running handlers, then hands back what is still
   * claimed so another process (or the next start) picks it up at once.
   */
  async stop(graceMs: number): Promise<void> {
    const { finished, handedBack } = await this.#worker.stop(graceMs)
    this.#o.log.info({ finished, released: handedBack }, 'dispatcher stopped')
  }

  async #housekeeping(): Promise<void> {
    if (Date.now() - this.#lastSweep < SWEEP_EVERY_MS) return
    this.#lastSweep = Date.now()
    for (const row of await inbox.failExhausted(this.#o.pool, this.#o.maxAttempts)) {
      await this.#giveUp(row, 'the process handling it stopped')
    }
    const behind = this.#o.behind
    if (behind && behind.afterSeconds > 0) {
      const lanes = await inbox.lanesBehind(this.#o.pool, behind.afterSeconds)
      if (lanes.length) {
        this.#o.log.info({ lanes: lanes.length }, 'chats told that their messages wait behind a backlog')
        behind.tell(lanes)
      }
    }
    if (Date.now() - this.#lastPrune > PRUNE_EVERY_MS) {
      this.#lastPrune = Date.now()
      const pruned = await inbox.prune(this.#o.pool, KEEP_FINISHED_DAYS)
      if (pruned) this.#o.log.info({ pruned }, 'old inbox rows deleted')
    }
  }

  async #handle(row: InboxRow): Promise<void> {
    const log = this.#o.log.child({ updateId: row.updateId, lane: row.lane, attempt: row.attempts })
    const started = performance.now()
    try {
      await this.#o.handle(row)
      if (!(await inbox.complete(this.#o.pool, row.updateId, this.claimant))) log.warn('finished an update whose claim was lost')
      this.#o.onOutcome?.(row, 'done', performance.now() - started)
    } catch (err) {
      try {
        const status = await this.#recordFailure(row, err, log)
        this.#o.onOutcome?.(row, status === 'failed' ? 'failed' : 'retry', performance.now() - started)
      } catch (recordErr) {
        log.error({ err: recordErr }, 'could not record the outcome of an update')
      }
    }
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
