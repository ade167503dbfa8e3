import { describe, expect, test } from 'vitest'
import { BudgetExceededError } from '../../agents/model.ts'
import { budgetRefusalText, budgetWarningText, usd } from '../../bot/model-errors.ts'
import { parseBudget } from '../../bot/features/budget.ts'
import type { Pool } from '../../db/database.ts'
import { reportedCost } from '../../domain/model-calls.ts'
import { periodIn } from '../../domain/schedule-time.ts'
import { aiderUsage, parseAiderUsageLine } from '../../workspace/aider-output.ts'
import { readFileSync } from 'node:fs'
import { budgetsOn } from '../support/budgets.ts'

/** A pool that answers the caps' query with `rows` and counts every statement. */
function poolWith(rows: Array<{ scope: string; subject: string; period: string; amountUsd: string }>) {
  const statements: string[] = []
  const pool = {
    query: (sql: string) => {
      statements.push(sql)
      return Promise.resolve({ rows: sql.includes('from budgets') ? rows.map((r) => ({ ...r, setBy: '1', setAt: new Date() })) : [{ personDay: '0', personMonth: '0', agentDay: '0', agentMonth: '0' }], rowCount: 1 })
    },
  } as unknown as Pool
  return { pool, statements }
}

const budgets = budgetsOn

describe('budgets', () => {
  test("a person's own cap beats the default row, which beats the environment; an agent's cap applies beside them", async () => {
    const { pool } = poolWith([
      { scope: 'person', subject: '7', period: 'day', amountUsd: '1.5' },
      { scope: 'person', subject: '*', period: 'day', amountUsd: '3' },
      { scope: 'agent', subject: 'coder', period: 'month', amountUsd: '40' },
    ])
    const b = budgets(pool, { userDaily: 9, userMonthly: 90 })
    expect((await b.capsFor(7, 'coder')).map((c) => [c.scope, c.period, c.amountUsd, c.from])).toEqual([
      ['person', 'day', 1.5, 'admin'],
      ['person', 'month', 90, 'environment'],
      ['agent', 'month', 40, 'admin'],
    ])
    expect((await b.capsFor(8, 'assistant')).map((c) => [c.period, c.amountUsd])).toEqual([['day', 3], ['month', 90]])
  })

  test('admins are capped unless BUDGET_ADMINS_EXEMPT; without any cap a check sends no spend query', async () => {
    const { pool, statements } = poolWith([])
    expect(await budgets(pool, { userDaily: 1 }, [1000]).capsFor(1000, 'assistant')).toHaveLength(1)
    expect(await budgets(pool, { userDaily: 1, adminsExempt: true }, [1000]).capsFor(1000, 'assistant')).toEqual([])
    const none = budgets(pool)
    await none.check({ chatId: 1, userId: 1, agent: 'assistant' })
    await none.check({ chatId: 1, userId: 1, agent: 'assistant' })
    expect(statements.filter((s) => s.includes('model_usage'))).toEqual([])
  })

  test('/budget reads people, defaults, agents and tasks, in dollars, or off', () => {
    expect(parseBudget('')).toEqual({ kind: 'list' })
    expect(parseBudget('person 2001 day 1.50')).toEqual({ kind: 'set', scope: 'person', subject: '2001', period: 'day', amountUsd: 1.5 })
    expect(parseBudget('default month $20')).toEqual({ kind: 'set', scope: 'person', subject: '*', period: 'month', amountUsd: 20 })
    expect(parseBudget('agent all day 5')).toEqual({ kind: 'set', scope: 'agent', subject: '*', period: 'day', amountUsd: 5 })
    expect(parseBudget('agent coder month off')).toEqual({ kind: 'clear', scope: 'agent', subject: 'coder', period: 'month' })
    expect(parseBudget('task 0.5')).toEqual({ kind: 'set', scope: 'task', subject: '*', period: 'task', amountUsd: 0.5 })
    for (const bad of ['person bob day 1', 'person 1 week 1', 'default day -1', 'task 1e9', 'agent c day 1', 'person 1 day 1.23456']) expect(parseBudget(bad), bad).toEqual({ kind: 'usage' })
  })

  test('what a refusal and a warning say: what was spent, of which cap, and when it starts again (in the zone)', () => {
    const resetsAt = periodIn('day', new Date('2026-11-29T23:30:00Z'), 'Europe/Berlin').end
    const refusal = { scope: 'person' as const, subject: '7', period: 'day' as const, spentUsd: 1.5234, capUsd: 1.5, resetsAt, timeZone: 'Europe/Berlin' }
    expect(budgetRefusalText(refusal)).toBe('$1.52 of your daily budget of $1.50 is spent, so no model was asked. It starts again on Tue 1 Dec 2026, 00:00 (Europe/Berlin).')
    expect(new BudgetExceededError(refusal).kind).toBe('over_budget')
    expect(budgetWarningText({ ...refusal, scope: 'agent', subject: 'coder', period: 'month', spentUsd: 4.1, capUsd: 5 })).toMatch(/^Heads-up: \$4\.10 of the coder agent's monthly budget of \$5\.00 is spent \(82 %\)\./)
    expect(budgetRefusalText({ ...refusal, scope: 'task', period: 'task', resetsAt: undefined })).toMatch(/of this task's budget of \$1\.50 is spent.*It does not reset/)
    expect([usd(0), usd(0.0042), usd(12.345)]).toEqual(['$0.00', '$0.0042', '$12.35'])
  })
})

describe("the provider's cost", () => {
  test("is read from the usage block, once even when a stream's usage blocks were added up", () => {
    expect(reportedCost({ prompt_tokens: 100, cost: 0.005 }, 100)).toBe(0.005)
    // OpenRouter sends its usage on a chunk with a choice; LangChain then sums it with the final one.
    expect(reportedCost({ prompt_tokens: 200, completion_tokens: 20, cost: 0.01 }, 100)).toBeCloseTo(0.005, 12)
    expect(reportedCost({ prompt_tokens: 100 }, 100)).toBeUndefined()
    expect(reportedCost({ cost: -1 })).toBeUndefined()
    expect(reportedCost({ cost: 'free' })).toBeUndefined()
    expect(reportedCost(undefined)).toBeUndefined()
  })
})

describe("aider's cost lines (aider-chat 0.86.1, a priced model)", () => {
  test('a real run: tokens sent and received, and the session cost', () => {
    const output = readFileSync(new URL('../fixtures/aider-0.86.1-priced-run.txt', import.meta.url), 'utf8')
    expect(aiderUsage(output)).toEqual({ inputTokens: 770, outputTokens: 13, sessionCost: 0.0025 })
  })

  test('thousands, cache columns, several messages, and a model without a price', () => {
    expect(parseAiderUsageLine('Tokens: 12k sent, 1.2k cache write, 3.4k cache hit, 512 received. Cost: $0.12 message, $0.40 session.')).toEqual({ inputTokens: 12_000, outputTokens: 512, sessionCost: 0.4 })
    expect(parseAiderUsageLine('Tokens: 2.3k sent, 45 received.')).toEqual({ inputTokens: 2300, outputTokens: 45, sessionCost: undefined })
    expect(parseAiderUsageLine('Applied edit to NOTES.md')).toBeUndefined()
    expect(aiderUsage('Tokens: 1k sent, 10 received. Cost: $0.01 message, $0.01 session.\nTokens: 2k sent, 20 received. Cost: $0.02 message, $0.03 session.\n')).toEqual({ inputTokens: 3000, outputTokens: 30, sessionCost: 0.03 })
  })
})
