import type { Logger } from '../logger.ts'

export interface SchedulerOptions {
  log: Logger
  everyMs: number
  /** The periodic work: returns how many events it queued (0: nothing to do). */
  jobs: Array<{ name: string; run: () => Promise<number> }>
  /** Called when jobs queued work, so it starts now rather than at the next poll. */
  onQueued: () => void
}

/**
 * Periodic jobs that move due work into the inbox (today: approvals past their deadline become
 * events that settle them in their chat's lane). Each job elects one instance itself, in the same
 * transaction that moves the work, so several instances never do it twice.
 */
export class Scheduler {
  readonly #o: SchedulerOptions
  #timer: NodeJS.Timeout | undefined
  #running: Promise<void> | undefined

  constructor(options: SchedulerOptions) {
    this.#o = options
  }

  start(): void {
    this.#timer = setInterval(() => {
      this.#running ??= this.runOnce()
        .catch((err: unknown) => this.#o.log.error({ err }, 'scheduled job failed'))
        .finally(() => (this.#running = undefined))
    }, this.#o.everyMs)
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer)
    await this.#running
  }

  async runOnce(): Promise<void> {
    let queued = 0
    for (const job of this.#o.jobs) queued += await job.run()
    if (queued) this.#o.onQueued()
  }
}
