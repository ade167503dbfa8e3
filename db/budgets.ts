import type { Pool } from './database.ts'

type Db = Pick<Pool, 'query'>

export type BudgetScope = 'person' | 'agent' | 'task'
export type BudgetPeriod = 'day' | 'month' | 'task'

/** A cap admins set with /budget; subject '*' is the default for every person, agent or task. */
export interface BudgetRow {
  scope: BudgetScope
  subject: string
  period: BudgetPeriod
  amountUsd: number
  setBy: number
  setAt: Date
}

export async function listBudgets(db: Db): Promise<BudgetRow[]> {
  const { rows } = await db.query<Omit<BudgetRow, 'amountUsd' | 'setBy'> & { amountUsd: string; setBy: string }>(
    `select scope, subject, period, amount_usd as "amountUsd", set_by as "setBy", set_at as "setAt" from budgets order by scope, subject, period`,
  )
  return rows.map((r) => ({ ...r, amountUsd: Number(r.amountUsd), setBy: Number(r.setBy) }))
}

export async function setBudget(db: Db, b: { scope: BudgetScope; subject: string; period: BudgetPeriod; amountUsd: number; by: number }): Promise<void> {
  await db.query(
    `insert into budgets (scope, subject, period, amount_usd, set_by) values ($1, $2, $3, $4, $5)
     on conflict (scope, subject, period) do update set amount_usd = excluded.amount_usd, set_by = excluded.set_by, set_at = now()`,
    [b.scope, b.subject, b.period, b.amountUsd, b.by],
  )
}

/** Removes a cap; false when there was none. */
export async function clearBudget(db: Db, b: { scope: BudgetScope; subject: string; period: BudgetPeriod }): Promise<boolean> {
  const { rowCount } = await db.query('delete from budgets where scope = $1 and subject = $2 and period = $3', [b.scope, b.subject, b.period])
  return rowCount === 1
}

/** Windows a check reads: a start for each cap that applies (null: no such cap, not summed). */
export interface SpendQuery {
  userId: number
  agent: string
  personDay: Date | null
  personMonth: Date | null
  agentDay: Date | null
  agentMonth: Date | null
}

/**
 * What a person and an agent spent in the windows of their caps, in one statement over both indexes
 * (user_id, at) and (agent, at). Calls of unknown cost count for nothing here: they have no figure.
 */
export async function spendFor(db: Db, q: SpendQuery): Promise<{ personDay: number; personMonth: number; agentDay: number; agentMonth: number }> {
  const earliest = (...dates: Array<Date | null>) => {
    const set = dates.filter((d): d is Date => d !== null)
    return set.length ? new Date(Math.min(...set.map((d) => d.getTime()))) : null
  }
  // Each side reads only its own window: a person's month does not drag the agent's month in with it.
  const { rows } = await db.query<{ personDay: string; personMonth: string; agentDay: string; agentMonth: string }>(
    `select coalesce(sum(cost_usd) filter (where user_id = $1 and at >= $3), 0) as "personDay",
            coalesce(sum(cost_usd) filter (where user_id = $1 and at >= $4), 0) as "personMonth",
            coalesce(sum(cost_usd) filter (where agent = $2 and at >= $5), 0) as "agentDay",
            coalesce(sum(cost_usd) filter (where agent = $2 and at >= $6), 0) as "agentMonth"
     from model_usage where cost_usd is not null and ((user_id = $1 and at >= $7) or (agent = $2 and at >= $8))`,
    [q.userId, q.agent, q.personDay, q.personMonth, q.agentDay, q.agentMonth, earliest(q.personDay, q.personMonth), earliest(q.agentDay, q.agentMonth)],
  )
  const r = rows[0]
  return { personDay: Number(r?.personDay ?? 0), personMonth: Number(r?.personMonth ?? 0), agentDay: Number(r?.agentDay ?? 0), agentMonth: Number(r?.agentMonth ?? 0) }
}

/** What a coder task's calls cost so far (its aider runs). */
export async function taskSpent(db: Db, taskId: string): Promise<number> {
  const { rows } = await db.query<{ usd: string }>('select coalesce(sum(cost_usd), 0) as usd from model_usage where task_id = $1', [taskId])
  return Number(rows[0]?.usd ?? 0)
}

/** Records the 80 % warning for a cap's period; true only the first time (then the warning is sent). */
export async function claimWarning(db: Db, w: { scope: BudgetScope; subject: string; period: BudgetPeriod; periodStart: Date }): Promise<boolean> {
  const { rowCount } = await db.query(
    `insert into budget_warnings (scope, subject, period, period_start) values ($1, $2, $3, $4) on conflict do nothing`,
    [w.scope, w.subject, w.period, w.periodStart],
  )
  return rowCount === 1
}
