import { AsyncLocalStorage } from 'node:async_hooks'
import { randomUUID } from 'node:crypto'
import { hostname } from 'node:os'
import type { Logger } from '../logger.ts'

/** Who claims jobs (a process may share one among its workers), and whether others can see that it is alive. */
export interface ClaimIdentity {
  readonly claimant: string
  /** False while a liveness lock is being taken again: this process's claims look dead meanwhile. */
  readonly held: boolean
}

/** What a lease renewal found: go on, the job was cancelled, or another process owns it now. */
export type RenewResult = 'go' | 'cancel' | 'lost'
/** Why a job's signal was aborted. */
export type AbortReason = 'cancel' | 'lost' | 'shutdown'

/** A job still running when the grace period ended: its signal is aborted, `settled` ends with it. */
export interface Unfinished<Job> {
  job: Job
  settled: Promise<void>
}

export interface LeasedWorkerOptions<Job> {
  /** Names the worker in its logs (`<name> poll failed`). */
  name: string
  log: Logger
  concurrency: number
  pollMs: number
  /** How often a running job's lease is renewed (a fraction of the lease). */
  renewEveryMs: number
  /** The process's claimant and liveness lock, shared by its workers; without one, a claimant of its own (claims then last as long as their lease). */
  identity?: ClaimIdentity
  keyOf(job: Job): string
  /** Claims up to `limit` jobs for `claimant`. */
  claim(limit: number, claimant: string): Promise<Job[]>
  /** Extends a running job's lease. */
  renew(job: Job, claimant: string): Promise<RenewResult>
  /** Whether a renewal's 'cancel' or 'lost' aborts the job's signal with that reason; default yes. */
  abortOn?(job: Job, result: Exclude<RenewResult, 'go'>): boolean
  /** Runs a claimed job and records its outcome; it should not throw (a throw is only logged). */
  run(job: Job, signal: AbortSignal): Promise<void>
  /** Runs before each claim: giving up on dead processes' claims, pruning. A throw fails the poll. */
  housekeeping?(): Promise<void>
  /** Hands back the jobs still running at the end of `stop`'s grace; returns how many went back. */
  handBack(unfinished: Array<Unfinished<Job>>, claimant: string): Promise<number>
}

/** An error as one line for the log and the tables: its class and message. */
export const errorText = (err: unknown) => (err instanceof Error ? `${err.name}: ${err.message}` : String(err))

/** A claimant id of this process, new per start so a restart never inherits a claim: `host:pid:random`. */
export const newClaimant = () => `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`

/**
 * The claim loop the dispatcher (inbox updates) and the task runner (task steps) share: polls for
 * work, claims at most `concurrency` jobs, keeps each job's lease alive while it runs, and on stop
 * waits out a grace period before aborting the rest and handing them back.
 *
 * The two use it by composition, not inheritance: their public faces differ (the dispatcher's
 * `active` is a count, the runner's `active()` a list of task ids), their hooks are plain functions
 * a test can give without a subclass, and nothing of the loop's state leaks into them as protected
 * members.
 */
export class LeasedWorker<Job> {
  readonly claimant: string
  readonly #o: LeasedWorkerOptions<Job>
  readonly #running = new Map<string, { job: Job; abort: AbortController; settled: Promise<void> }>()
  /**
   * Polls and jobs run in the context the worker was made in: a wake from inside a graph run (a tool
   * that queued work) would otherwise make every later graph run a "subgraph" of that run.
   */
  readonly #detached = AsyncLocalStorage.snapshot()
  #timer: NodeJS.Timeout | undefined
  #polling: Promise<void> | undefined
  #again = false
  #stopped = true
  #lastPollOk = 0
  #lastError: string | undefined

  constructor(options: LeasedWorkerOptions<Job>) {
    this.#o = options
    this.claimant = options.identity?.claimant ?? newClaimant()
  }

  start(): void {
    this.#stopped = false
    // A worker that has just started counts as polling until its polls fail: /health asked right
    // after "service started" must not see the first poll still on its way as an outage.
    this.#lastPollOk = Date.now()
    this.wake()
  }

  /** Looks for work now instead of at the next poll; wakes during a poll are coalesced into one more. */
  wake(): void {
    if (this.#stopped) return
    if (this.#polling) {
      this.#again = true
      return
    }
    clearTimeout(this.#timer)
    this.#polling = this.#detached(async () => {
      await this.#poll()
      this.#polling = undefined
      if (this.#stopped) return
      if (this.#again) {
        this.#again = false
        setImmediate(() => this.wake())
      } else {
        this.#timer = setTimeout(() => this.wake(), this.#o.pollMs)
      }
    })
  }

  get active(): number {
    return this.#running.size
  }

  /** Keys of the jobs running now. */
  keys(): string[] {
    return [...this.#running.keys()]
  }

  /** Healthy while polls succeed and the liveness lock is held; a database outage shows within a few polls. */
  status(): { healthy: boolean; active: number; lastError: string | undefined } {
    const polling = !this.#stopped && Date.now() - this.#lastPollOk < Math.max(this.#o.pollMs * 4, 5000)
    const alive = this.#o.identity?.held ?? true
    const healthy = polling && alive
    const lastError = healthy ? undefined : polling ? 'the liveness lock is being taken again' : this.#lastError
    return { healthy, active: this.#running.size, lastError }
  }

  /**
   * Stops claiming, waits up to `graceMs` for running jobs, then aborts the rest (reason 'shutdown')
   * and hands them back, so another process (or the next start) picks them up at once.
   */
  async stop(graceMs: number): Promise<{ finished: boolean; handedBack: number }> {
    this.#stopped = true
    clearTimeout(this.#timer)
    await this.#polling
    let timeout: NodeJS.Timeout | undefined
    const all = Promise.allSettled([...this.#running.values()].map((r) => r.settled))
    const finished = await Promise.race([all.then(() => true), new Promise<false>((r) => (timeout = setTimeout(() => r(false), graceMs)))])
    clearTimeout(timeout)
    const unfinished = [...this.#running.values()]
    for (const r of unfinished) r.abort.abort('shutdown' satisfies AbortReason)
    const handedBack = await this.#o.handBack(unfinished.map(({ job, settled }) => ({ job, settled })), this.claimant)
    return { finished, handedBack }
  }

  async #poll(): Promise<void> {
    try {
      await this.#o.housekeeping?.()
      const free = this.#o.concurrency - this.#running.size
      // Without its liveness lock this process looks dead: a claim now could be taken over at once.
      if (free > 0 && !this.#stopped && (this.#o.identity?.held ?? true)) {
        for (const job of await this.#o.claim(free, this.claimant)) this.#start(job)
      }
      this.#lastPollOk = Date.now()
    } catch (err) {
      this.#lastError = errorText(err)
      this.#o.log.error({ err }, `${this.#o.name} poll failed`)
    }
  }

  #start(job: Job): void {
    const key = this.#o.keyOf(job)
    const abort = new AbortController()
    const heartbeat = setInterval(() => {
      this.#o.renew(job, this.claimant).then(
        (result) => {
          if (result !== 'go' && (this.#o.abortOn?.(job, result) ?? true)) abort.abort(result satisfies AbortReason)
        },
        (err: unknown) => this.#o.log.warn({ err, job: key }, 'lease renewal failed'),
      )
    }, this.#o.renewEveryMs)
    const settled = (async () => this.#o.run(job, abort.signal))()
      .catch((err: unknown) => this.#o.log.error({ err, job: key }, `${this.#o.name} job failed unexpectedly`))
      .finally(() => {
        clearInterval(heartbeat)
        this.#running.delete(key)
        // A finished job may unblock the next update of its lane: look at once.
        this.wake()
      })
    this.#running.set(key, { job, abort, settled })
  }
}
