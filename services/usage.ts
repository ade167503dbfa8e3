import type { Pool } from '../db/database.ts'
import * as db from '../db/usage.ts'
import type { ModelCallReport } from '../domain/model-calls.ts'
import type { Logger } from '../logger.ts'

export type { UsageLine } from '../db/usage.ts'

/** Model calls: every one counted (metrics) and recorded (/usage), never failing the turn that made it. */
export class Usage {
  readonly #pool: Pool
  readonly #log: Logger
  readonly #observe: (call: ModelCallReport) => void

  constructor(deps: { pool: Pool; log: Logger; observe: (call: ModelCallReport) => void }) {
    this.#pool = deps.pool
    this.#log = deps.log
    this.#observe = deps.observe
  }

  /** Told of every model call by the graph. */
  readonly record = (call: ModelCallReport): void => {
    this.#observe(call)
    db.recordModelCall(this.#pool, call).catch((err: unknown) => this.#log.warn({ err }, 'could not record model usage'))
  }

  /** Tokens by person, agent and model in the last `days`; one person's when `userId` is given. */
  lastDays = (days: number, userId?: number) => db.usageSince(this.#pool, new Date(Date.now() - days * 86400_000), userId)

  /** Failed model calls in the last `ms`. */
  failuresWithin = (ms: number) => db.modelErrorsSince(this.#pool, new Date(Date.now() - ms))
}
