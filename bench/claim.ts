// npm run bench (claim part): the inbox claim over a deep backlog when the planner's statistics were
// gathered before the burst, on an inbox of finished updates (as after a quiet night: autovacuum has
// not analyzed the burst yet, and the statistics say that almost nothing is queued).
// The claim before issue 16 (two correlated NOT EXISTS per pending row) is kept here as the baseline
// and measured in the same run as today's (lane heads, busy lanes and live keys each read once).
// Native Postgres only (TEST_DATABASE_URL); the embedded database runs the same SQL.
import * as inbox from '../db/inbox.ts'
import { migrate } from '../db/migrate.ts'
import { TEST_DATABASE_URL } from '../test/support/database.ts'
import { openTestDatabase, quietLog } from '../test/support/database.ts'
import { figures, printTable, writeResult } from './report.ts'

const LANES = 500
const RUNS = 5

const BEFORE_ISSUE_16 = `with candidate as (
  select i.update_id from inbox i
  where i.status in ('queued', 'running')
    and ((i.status = 'queued' and i.available_at <= now())
         or (i.status = 'running' and not claim_held(i.lease_until, i.claimed_by, (select live_lock_keys()))))
    and not exists (select 1 from inbox e where e.lane = i.lane and e.update_id < i.update_id and e.status in ('queued', 'running'))
    and not exists (select 1 from inbox r where r.lane = i.lane and r.update_id <> i.update_id and r.status = 'running'
                    and claim_held(r.lease_until, r.claimed_by, (select live_lock_keys())))
  order by i.update_id limit $1 for update skip locked)
update inbox set status = 'running', attempts = inbox.attempts + 1, claimed_by = $3,
  lease_until = now() + make_interval(secs => $2::double precision / 1000), started_at = now()
from candidate where inbox.update_id = candidate.update_id
returning inbox.update_id`

if (!TEST_DATABASE_URL) {
  console.log('TEST_DATABASE_URL is not set: the claim bench needs native Postgres (run .ci/postgres.sh to get one).')
  process.exit(0)
}
const db = await openTestDatabase()
await migrate(db.pool, quietLog)

const FINISHED = 20_000

/** A backlog of `depth` queued updates over LANES lanes, 8 of them running, planned on finished rows only. */
async function backlog(depth: number): Promise<void> {
  await db.pool.query('truncate inbox')
  const done = Array.from({ length: FINISHED }, (_, i) => ({ updateId: i + 1, lane: (i % LANES) + 1, kind: 'message', payload: { update_id: i + 1 } }))
  for (let i = 0; i < done.length; i += 2000) await inbox.enqueueMany(db.pool, done.slice(i, i + 2000))
  await db.pool.query(`update inbox set status = 'done', finished_at = now()`)
  await db.pool.query('analyze inbox')
  const updates = Array.from({ length: depth }, (_, i) => ({ updateId: FINISHED + i + 1, lane: (i % LANES) + 1, kind: 'message', payload: { update_id: FINISHED + i + 1 } }))
  for (let i = 0; i < updates.length; i += 2000) await inbox.enqueueMany(db.pool, updates.slice(i, i + 2000))
  await inbox.claim(db.pool, { limit: 8, leaseMs: 600_000, claimant: 'busy' })
}

/** Times RUNS claims of 8, each rolled back so every run sees the same backlog. */
async function time(claim: (client: Pick<typeof db.pool, 'query'>) => Promise<unknown>): Promise<number[]> {
  const samples: number[] = []
  for (let i = 0; i < RUNS; i++) {
    const client = await db.pool.connect()
    try {
      await client.query('begin')
      const t0 = performance.now()
      await claim(client)
      samples.push(performance.now() - t0)
    } finally {
      await client.query('rollback')
      client.release()
    }
  }
  return samples
}

const rows: Array<Array<string | number>> = [['queued', 'claim', 'p50 ms', 'p99 ms', 'before / after (p50)']]
const result: Record<string, unknown> = {}
try {
  for (const depth of [3000, 20_000]) {
    await backlog(depth)
    const after = figures(await time((c) => inbox.claim(c as typeof db.pool, { limit: 8, leaseMs: 60_000, claimant: 'bench' })))
    // The old claim grows with the square of the backlog: at 20,000 one call took minutes (issue 16).
    const before = depth <= 3000 ? figures(await time((c) => c.query(BEFORE_ISSUE_16, [8, 60_000, 'bench']))) : undefined
    if (before) rows.push([depth, 'before issue 16', before.p50, before.p99, `${(before.p50 / after.p50).toFixed(0)}x`])
    rows.push([depth, 'lane heads (now)', after.p50, after.p99, '-'])
    result[depth] = { before, after }
  }
} finally {
  await db.close()
}
printTable(rows)
writeResult('claim', { lanes: LANES, runs: RUNS, runningLanes: 8, finishedWhenAnalyzed: FINISHED, depths: result })
