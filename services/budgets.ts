import { BudgetExceededError } from '../agents/model.ts'
import type { BudgetRefusal } from '../agents/model.ts'
import { cachedFor } from '../cached.ts'
import { audit } from '../db/audit-log.ts'
import * as db from '../db/budgets.ts'
import type { BudgetPeriod, BudgetRow, BudgetScope } from '../db/budgets.ts'
import type { Pool } from '../db/database.ts'
import { periodIn } from '../domain/schedule-time.ts'
import type { Logger } from '../logger.ts'
import type { ChatOutput } from './output.ts'

export type { BudgetPeriod, BudgetScope } from '../db/budgets.ts'

/** A cap that applies: where it comes from (an admin's /budget, or the environment's default). */
export interface Cap {
  scope: BudgetScope
  subject: string
  period: BudgetPeriod
  amountUsd: number
  from: 'admin' | 'environment'
}

/** The defaults from the environment (BUDGET_USER_DAILY, BUDGET_USER_MONTHLY, BUDGET_TASK); undefined: no cap. */
export interface BudgetDefaults {
  userDaily: number | undefined
  userMonthly: number | undefined
  task: number | undefined
  adminsExempt: boolean
}

/** What a person is warned of at 80 %: the cap, what was spent, and when it starts again. */
export type BudgetWarning = Omit<BudgetRefusal, 'spentUsd'> & { spentUsd: number }

const WARN_AT = 0.8

/**
 * Budgets: caps per person, per agent and per coder task, set by admins with /budget (audited) over
 * the environment's defaults, and checked before every model call. The spend a check reads is in
 * Postgres (this process's calls are awaited first), so calls made a moment ago on another instance
 * count too. At 80 % of a cap the chat is warned, once per period.
 */
export class Budgets {
  readonly #pool: Pool
  readonly #defaults: BudgetDefaults
  readonly #isAdmin: (userId: number) => boolean
  readonly #timeZoneOf: (userId: number) => Promise<string>
  readonly #defaultTimeZone: string
  readonly #settled: () => Promise<void>
  readonly #output: Pick<ChatOutput, 'budgetWarning'>
  readonly #onRefused: (scope: BudgetScope, period: BudgetPeriod) => void
  readonly #log: Logger
  /** The caps admins set, read at most every 3 s (another instance's /budget shows within that). */
  readonly #rows: { get(): Promise<BudgetRow[]>; drop(): void }
  /** People's time zones, for a minute: a check should not cost a query for it. */
  readonly #zones = new Map<number, { zone: string; until: number }>()

  constructor(deps: {
    pool: Pool
    defaults: BudgetDefaults
    isAdmin: (userId: number) => boolean
    timeZoneOf: (userId: number) => Promise<string>
    defaultTimeZone: string
    settled: () => Promise<void>
    output: Pick<ChatOutput, 'budgetWarning'>
    onRefused: (scope: BudgetScope, period: BudgetPeriod) => void
    log: Logger
  }) {
    this.#pool = deps.pool
    this.#defaults = deps.defaults
    this.#isAdmin = deps.isAdmin
    this.#timeZoneOf = deps.timeZoneOf
    this.#defaultTimeZone = deps.defaultTimeZone
    this.#settled = deps.settled
    this.#output = deps.output
    this.#onRefused = deps.onRefused
    this.#log = deps.log
    this.#rows = cachedFor(3000, () => db.listBudgets(this.#pool))
  }

  /** The caps that apply to `userId` calling through `agent`: a person's own over the default, and the agent's. */
  async capsFor(userId: number, agent: string): Promise<Cap[]> {
    const rows = await this.#rows.get()
    const row = (scope: BudgetScope, subject: string, period: BudgetPeriod) => rows.find((r) => r.scope === scope && r.subject === subject && r.period === period)
    const pick = (scope: BudgetScope, subject: string, period: BudgetPeriod, fallback: number | undefined): Cap | undefined => {
      const own = row(scope, subject, period) ?? row(scope, '*', period)
      if (own) return { scope, subject, period, amountUsd: own.amountUsd, from: 'admin' }
      return fallback === undefined ? undefined : { scope, subject, period, amountUsd: fallback, from: 'environment' }
    }
    const exempt = this.#defaults.adminsExempt && this.#isAdmin(userId)
    return [
      ...(exempt ? [] : [pick('person', String(userId), 'day', this.#defaults.userDaily), pick('person', String(userId), 'month', this.#defaults.userMonthly)]),
      pick('agent', agent, 'day', undefined),
      pick('agent', agent, 'month', undefined),
    ].filter((c): c is Cap => c !== undefined)
  }

  /**
   * Before a model call: throws BudgetExceededError when a cap that applies is spent (no call is
   * made), and warns the chat once per period at 80 %. Without caps it costs nothing: no query.
   */
  readonly check = async (who: { chatId: number; userId: number; agent: string }): Promise<void> => {
    const caps = await this.capsFor(who.userId, who.agent)
    if (!caps.length) return
    await this.#settled()
    const now = new Date()
    const personZone = caps.some((c) => c.scope === 'person') ? await this.#zoneOf(who.userId) : this.#defaultTimeZone
    const zoneOf = (c: Cap) => (c.scope === 'person' ? personZone : this.#defaultTimeZone)
    const periods = new Map(caps.map((c) => [c, periodIn(c.period === 'month' ? 'month' : 'day', now, zoneOf(c))]))
    const startOf = (scope: BudgetScope, period: BudgetPeriod) => {
      const cap = caps.find((c) => c.scope === scope && c.period === period)
      return cap ? periods.get(cap)!.start : null
    }
    const spent = await db.spendFor(this.#pool, {
      userId: who.userId,
      agent: who.agent,
      personDay: startOf('person', 'day'),
      personMonth: startOf('person', 'month'),
      agentDay: startOf('agent', 'day'),
      agentMonth: startOf('agent', 'month'),
    })
    const spentOn = (c: Cap) => (c.scope === 'person' ? (c.period === 'day' ? spent.personDay : spent.personMonth) : c.period === 'day' ? spent.agentDay : spent.agentMonth)
    const state = (c: Cap): BudgetRefusal => ({ scope: c.scope, subject: c.subject, period: c.period, spentUsd: spentOn(c), capUsd: c.amountUsd, resetsAt: periods.get(c)!.end, timeZone: zoneOf(c) })
    const over = caps.find((c) => spentOn(c) >= c.amountUsd)
    if (over) {
      this.#onRefused(over.scope, over.period)
      this.#log.info({ userId: who.userId, agent: who.agent, scope: over.scope, period: over.period, spent: spentOn(over), cap: over.amountUsd }, 'model call refused: budget spent')
      throw new BudgetExceededError(state(over))
    }
    for (const c of caps.filter((c) => spentOn(c) >= WARN_AT * c.amountUsd)) {
      if (await db.claimWarning(this.#pool, { scope: c.scope, subject: c.subject, period: c.period, periodStart: periods.get(c)!.start })) {
        await this.#output.budgetWarning(who.chatId, state(c)).catch((err: unknown) => this.#log.warn({ err }, 'could not send a budget warning'))
      }
    }
  }

  /**
   * Before a task's aider run: the requester's and the agent's caps (refused: the detail of the task's
   * `over_budget` error, `scope|period|spent|cap`), else the task's cap and what it spent so far.
   */
  async beforeTask(t: { chatId: number; requesterId: number; agent: string; id: string }): Promise<{ refused: string } | { taskCapUsd: number | undefined; spentUsd: number }> {
    try {
      await this.check({ chatId: t.chatId, userId: t.requesterId, agent: t.agent })
    } catch (err) {
      if (!(err instanceof BudgetExceededError)) throw err
      const r = err.refusal
      return { refused: `${r.scope}|${r.period}|${r.spentUsd.toFixed(6)}|${r.capUsd}` }
    }
    const taskCapUsd = await this.taskCap()
    return { taskCapUsd, spentUsd: taskCapUsd === undefined ? 0 : await this.taskSpent(t.id) }
  }

  /** A coder task's cap (BUDGET_TASK, or an admin's `/budget task`), undefined when none. */
  async taskCap(): Promise<number | undefined> {
    const row = (await this.#rows.get()).find((r) => r.scope === 'task' && r.subject === '*' && r.period === 'task')
    return row?.amountUsd ?? this.#defaults.task
  }

  /** What a task's aider runs cost so far. */
  taskSpent = (taskId: string) => db.taskSpent(this.#pool, taskId)

  /** Every cap in force: the admins' and the environment's defaults (for /budget). */
  async list(): Promise<Cap[]> {
    const rows = (await this.#rows.get()).map((r): Cap => ({ scope: r.scope, subject: r.subject, period: r.period, amountUsd: r.amountUsd, from: 'admin' }))
    const d = this.#defaults
    const env: Array<[BudgetScope, BudgetPeriod, number | undefined]> = [['person', 'day', d.userDaily], ['person', 'month', d.userMonthly], ['task', 'task', d.task]]
    const defaults = env.filter(([scope, period, amount]) => amount !== undefined && !rows.some((r) => r.scope === scope && r.subject === '*' && r.period === period))
    return [...rows, ...defaults.map(([scope, period, amount]): Cap => ({ scope, subject: '*', period, amountUsd: amount!, from: 'environment' }))]
  }

  /** Sets a cap (audited). */
  async set(b: { scope: BudgetScope; subject: string; period: BudgetPeriod; amountUsd: number; by: number }): Promise<void> {
    await db.setBudget(this.#pool, b)
    this.#rows.drop()
    await audit(this.#pool, { action: 'budget_set', actorId: b.by, detail: { scope: b.scope, subject: b.subject, period: b.period, amountUsd: b.amountUsd } })
  }

  /** Clears a cap (audited); false when there was none. */
  async clear(b: { scope: BudgetScope; subject: string; period: BudgetPeriod; by: number }): Promise<boolean> {
    const cleared = await db.clearBudget(this.#pool, b)
    this.#rows.drop()
    if (cleared) await audit(this.#pool, { action: 'budget_cleared', actorId: b.by, detail: { scope: b.scope, subject: b.subject, period: b.period } })
    return cleared
  }

  async #zoneOf(userId: number): Promise<string> {
    const known = this.#zones.get(userId)
    if (known && known.until > Date.now()) return known.zone
    const zone = await this.#timeZoneOf(userId)
    this.#zones.set(userId, { zone, until: Date.now() + 60_000 })
    return zone
  }
}
