import type { Pool } from '../../db/database.ts'
import { Budgets } from '../../services/budgets.ts'
import type { BudgetDefaults } from '../../services/budgets.ts'
import { quietLog } from './database.ts'

/**
 * Budgets on `pool` with `defaults` (no caps unless given), people in Europe/Berlin, agents in UTC,
 * warnings and refusals going nowhere: what the unit tests and the bench measure.
 */
export function budgetsOn(pool: Pool, defaults: Partial<BudgetDefaults> = {}, admins: readonly number[] = []): Budgets {
  return new Budgets({
    pool,
    defaults: { userDaily: undefined, userMonthly: undefined, task: undefined, adminsExempt: false, ...defaults },
    isAdmin: (id) => admins.includes(id),
    timeZoneOf: () => Promise.resolve('Europe/Berlin'),
    defaultTimeZone: 'UTC',
    settled: () => Promise.resolve(),
    output: { budgetWarning: () => Promise.resolve() },
    onRefused: () => undefined,
    log: quietLog,
  })
}
