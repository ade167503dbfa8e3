// npm run bench (budgets): what the budget check adds before a model call, on the embedded database
// and on native Postgres (TEST_DATABASE_URL). 200 people with 30 days of history (60,000 priced calls
// over four agents); the check with a person's daily and monthly caps and an agent's daily cap against
// the same call with no caps (no query at all), one at a time and 16 at once. Writes
// bench/results/budgets-*.json. Also: /usage's chart, drawn and encoded.
import { spendChart } from '../bot/usage/chart.ts'
import { budgetsOn } from '../test/support/budgets.ts'
import { TEST_DATABASE_URL, openPreparedDatabase } from '../test/support/database.ts'
import { figures, printTable, writeResult } from './report.ts'
import type { Figures } from './report.ts'

const PEOPLE = 200
const CALLS = 60_000
const AGENTS = ['assistant', 'coder', 'researcher', 'memory']
const CHECKS = 2000
const CONCURRENT = 16

// A fixed pseudo-random stream, so every run measures the same data.
let seed = 7
const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31)

async function fill(pool: Awaited<ReturnType<typeof openPreparedDatabase>>['pool']): Promise<void> {
  const now = Date.now()
  for (let done = 0; done < CALLS; done += 5000) {
    const n = Math.min(5000, CALLS - done)
    const users = Array.from({ length: n }, () => 1 + Math.floor(rand() * PEOPLE))
    const agents = Array.from({ length: n }, () => AGENTS[Math.floor(rand() * AGENTS.length)]!)
    const at = Array.from({ length: n }, () => new Date(now - rand() * 30 * 86400_000).toISOString())
    const cost = Array.from({ length: n }, () => (rand() * 0.002).toFixed(8))
    await pool.query(
      `insert into model_usage (user_id, chat_id, agent, model, input_tokens, output_tokens, ms, at, cost_usd, cost_source)
       select u, u, a, 'test-model', 500, 50, 900, t::timestamptz, c::numeric, 'provider' from unnest($1::bigint[], $2::text[], $3::text[], $4::text[]) as x(u, a, t, c)`,
      [users, agents, at, cost],
    )
  }
  await pool.query('analyze model_usage')
}

// High caps: every check passes and reads the whole spend, the usual case.
const CAPPED = { userDaily: 1000, userMonthly: 10_000 }
const NONE = {}

async function timed(check: (i: number) => Promise<void>, concurrency: number): Promise<Figures> {
  const samples: number[] = []
  let next = 0
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < CHECKS) {
        const i = next++
        const t = performance.now()
        await check(i)
        samples.push(performance.now() - t)
      }
    }),
  )
  return figures(samples, 3)
}

async function run(embedded: boolean) {
  const db = await openPreparedDatabase({ embedded })
  try {
    await fill(db.pool)
    const who = (i: number) => ({ chatId: 1 + (i % PEOPLE), userId: 1 + (i % PEOPLE), agent: 'assistant' })
    // No caps anywhere (no budgets rows yet): the check reads its cached empty list and returns.
    const uncapped = budgetsOn(db.pool, NONE)
    await uncapped.check(who(0))
    const none = await timed((i) => uncapped.check(who(i)), 1)
    const capped = budgetsOn(db.pool, CAPPED)
    await capped.set({ scope: 'agent', subject: 'assistant', period: 'day', amountUsd: 5000, by: 1 })
    // Warm the caps' cache and the query plan before measuring.
    for (let i = 0; i < 50; i++) await capped.check(who(i))
    const result = {
      none,
      capped: await timed((i) => capped.check(who(i)), 1),
      cappedConcurrent: await timed((i) => capped.check(who(i)), CONCURRENT),
    }
    return result
  } finally {
    await db.close()
  }
}

/** /usage's chart: 30 bars drawn and encoded to PNG, in process. */
async function chartTimes(): Promise<Figures & { bytes: number }> {
  const daily = Array.from({ length: 30 }, (_, i) => ({ day: `2026-11-${String(i + 1).padStart(2, '0')}`, usd: rand() * 0.2 }))
  const samples: number[] = []
  let bytes = 0
  for (let i = 0; i < 60; i++) {
    const t = performance.now()
    bytes = (await spendChart(daily, 'Your spend per day, last 30 days')).length
    if (i >= 10) samples.push(performance.now() - t) // the first renders load fonts and warm up
  }
  return { ...figures(samples, 1), bytes }
}

const chart = await chartTimes()
const results: Record<string, Awaited<ReturnType<typeof run>>> = { embedded: await run(true) }
if (TEST_DATABASE_URL) results.native = await run(false)
else console.warn('budgets bench: native Postgres skipped (set TEST_DATABASE_URL)')

console.log(`\nThe budget check before a model call: ${CALLS.toLocaleString('en-US')} priced calls of ${PEOPLE} people over 30 days; caps: the person's day and month, the agent's day.`)
printTable([
  ['database', 'no caps p50/p99 ms', 'capped p50/p99 ms', `capped, ${CONCURRENT} at once p50/p99 ms`],
  ...Object.entries(results).map(([name, r]) => [name, `${r.none.p50} / ${r.none.p99}`, `${r.capped.p50} / ${r.capped.p99}`, `${r.cappedConcurrent.p50} / ${r.cappedConcurrent.p99}`]),
])
console.log(`\n/usage chart (30 bars, PNG): ${chart.p50} ms p50, ${chart.p99} ms p99, ${chart.bytes} bytes`)
writeResult('budgets', { people: PEOPLE, calls: CALLS, checks: CHECKS, concurrent: CONCURRENT, results, chart })
