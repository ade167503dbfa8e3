import { expireDue } from '../db/approvals.ts'
import type { Pool } from '../db/database.ts'
import { enqueueEvent } from '../db/inbox.ts'
import type { Logger } from '../logger.ts'

export interface SchedulerOptions {
  pool: Pool
  log: Logger
  everyMs: number
  /** Called when jobs queued work, so it starts now rather than at the next poll. */
  onQueued: () => void
}

/**
 * Periodic jobs. Today: expire approvals past their deadline. Each due request is marked `timeout`
 * and an event that resumes its thread is queued in its chat's lane, in one transaction; the
 * transaction's advisory lock lets only one instance run the job at a time.
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
    const expired = await expireDue(this.#o.pool, (client, row) => enqueueEvent(client, row.chatId, { type: 'approval_expired', approvalId: row.id }).then(() => undefined))
    if (expired.length) {
      this.#o.log.info({ approvals: expired.map((r) => r.id) }, 'approvals expired')
      this.#o.onQueued()
    }
  }
}
