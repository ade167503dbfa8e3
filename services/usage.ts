import type { Prices } from '../agents/prices.ts'
import type { Pool } from '../db/database.ts'
import * as db from '../db/usage.ts'
import type { CallCost, ModelCallReport } from '../domain/model-calls.ts'
import { periodIn } from '../domain/schedule-time.ts'
import type { Logger } from '../logger.ts'

export type { UsageLine } from '../db/usage.ts'

/** /usage's figures: spend and tokens by agent and model, spend per day, and (for admins) per coder task. */
export interface UsageReport {
  lines: db.UsageLine[]
  /** The last 30 days in the person's zone, oldest first, every day present (0 for days without calls). */
  daily: Array<{ day: string; usd: number }>
  tasks: Array<{ taskId: string; usd: number; calls: number; unknownCalls: number }> | undefined
  timeZone: string
}

const DAY_MS = 86400_000

/**
 * Model calls: every one counted (metrics) and recorded with its cost (/usage and budgets), never
 * failing the turn that made it. The cost is the provider's own figure where it reports one, else
 * the price list's, else unknown (null: never zero).
 */
export class Usage {
  readonly #pool: Pool
  readonly #log: Logger
  readonly #observe: (call: ModelCallReport, cost: CallCost) => void
  readonly #prices: Pick<Prices, 'costOf'> | undefined
  /** Inserts on their way: a budget check waits for them, so it reads the calls this process just made. */
  readonly #pending = new Set<Promise<void>>()

  constructor(deps: { pool: Pool; log: Logger; observe: (call: ModelCallReport, cost: CallCost) => void; prices?: Pick<Prices, 'costOf'> | undefined }) {
    this.#pool = deps.pool
    this.#log = deps.log
    this.#observe = deps.observe
    this.#prices = deps.prices
  }

  /** Told of every model call (the graph, transcription, embeddings, aider runs). */
  readonly record = (call: ModelCallReport): void => {
    const write = this.#write(call).catch((err: unknown) => this.#log.warn({ err }, 'could not record model usage'))
    this.#pending.add(write)
    void write.finally(() => this.#pending.delete(write))
  }

  /** Resolves once every call recorded so far is in the database. */
  async settled(): Promise<void> {
    await Promise.all([...this.#pending])
  }

  async #write(call: ModelCallReport): Promise<void> {
    const cost = await this.#costOf(call)
    this.#observe(call, cost)
    await db.recordModelCall(this.#pool, call, cost)
  }

  async #costOf(call: ModelCallReport): Promise<CallCost> {
    if (call.error) return { usd: null, source: null }
    if (call.cost !== undefined) return { usd: call.cost, source: call.costSource ?? 'provider' }
    const priced = await this.#prices?.costOf(call.model, call).catch(() => undefined)
    return priced === undefined ? { usd: null, source: null } : { usd: priced, source: 'price' }
  }

  /** Spend and tokens of one person (or everyone's, with per-task spend), counted in `timeZone`. */
  async report(o: { userId?: number | undefined; timeZone: string; now?: Date }): Promise<UsageReport> {
    const now = o.now ?? new Date()
    const windows = { today: periodIn('day', now, o.timeZone).start, month: periodIn('month', now, o.timeZone).start, last30: new Date(now.getTime() - 30 * DAY_MS) }
    // The chart's 30 days start at a midnight of the person's, so its first bar is a whole day.
    const firstDay = periodIn('day', new Date(now.getTime() - 29 * DAY_MS), o.timeZone).start
    const [lines, days, tasks] = await Promise.all([
      db.usageLines(this.#pool, windows, o.userId),
      db.dailySpend(this.#pool, firstDay, o.timeZone, o.userId),
      o.userId === undefined ? db.taskSpend(this.#pool, windows.last30) : undefined,
    ])
    const byDay = new Map(days.map((d) => [d.day, d.usd]))
    const dayOf = new Intl.DateTimeFormat('en-CA', { timeZone: o.timeZone, year: 'numeric', month: '2-digit', day: '2-digit' })
    const daily = Array.from({ length: 30 }, (_, i) => {
      const day = dayOf.format(new Date(now.getTime() - (29 - i) * DAY_MS))
      return { day, usd: byDay.get(day) ?? 0 }
    })
    return { lines, daily, tasks, timeZone: o.timeZone }
  }

  /** Failed model calls in the last `ms`. */
  failuresWithin = (ms: number) => db.modelErrorsSince(this.#pool, new Date(Date.now() - ms))
}
