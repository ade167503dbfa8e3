import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import pg from 'pg'
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'vitest'
import * as inbox from '../../../db/inbox.ts'
import { claimTask, createTask, getTask, recoverExpired } from '../../../db/tasks.ts'
import { ProcessLiveness } from '../../../worker/liveness.ts'
import { TEST_DATABASE_URL, openPreparedDatabase, quietLog } from '../../support/database.ts'
import { waitUntil } from '../../support/http.ts'

const HOLDER = fileURLToPath(new URL('../../support/claim-holder.ts', import.meta.url))
const LEASE = { leaseMs: 60_000 } // far longer than any test: a take-over here is never the lease's doing

/**
 * The holder of a liveness lock on `key`, as another process would hold it: on native Postgres a
 * session of its own, which `die()` ends; on the embedded database (one session) the lock is taken
 * on that session and `die()` gives it up, as a restart of the one process that may open it does.
 */
interface Holder {
  claimant: string
  die(): Promise<void>
}

describe.each([
  { mode: 'native Postgres', embedded: false },
  { mode: 'embedded PGlite', embedded: true },
])('claims and their holders\' liveness ($mode)', ({ embedded }) => {
  let db: Awaited<ReturnType<typeof openPreparedDatabase>>
  const skip = !embedded && !TEST_DATABASE_URL
  let nextKey = 0n
  let n = 0
  beforeAll(async () => {
    if (!skip) db = await openPreparedDatabase({ embedded })
  })
  afterAll(() => db?.close())
  beforeEach(async () => {
    if (skip) return
    await db.pool.query('delete from approval_requests')
    await db.pool.query('delete from tasks')
    await db.pool.query('truncate inbox')
  })

  async function holder(): Promise<Holder> {
    // Keys with the high bit set and without: both halves of the pg_locks encoding are exercised.
    const key = (++nextKey % 2n === 0n ? -1n : 1n) * (0x1234_5678_0000_0000n + nextKey)
    const claimant = `somewhere:1:abcdef01#lock:${key}`
    if (embedded) {
      await db.pool.query('select pg_advisory_lock($1::bigint)', [key.toString()])
      return { claimant, die: async () => void (await db.pool.query('select pg_advisory_unlock($1::bigint)', [key.toString()])) }
    }
    const session = new pg.Client({ connectionString: db.spec.url })
    await session.connect()
    await session.query('select pg_advisory_lock($1::bigint)', [key.toString()])
    return { claimant, die: () => session.end() }
  }
  const put = (updateId: number, lane: number) => inbox.enqueue(db.pool, { updateId, lane, kind: 'message', payload: {} })
  const newTask = () => createTask(db.pool, { chatId: 7, threadId: 't', requesterId: 1, agent: 'coder', source: `s${++n}`, input: { instructions: 'x', files: [] } })

  test.skipIf(skip)('an update claimed by a live holder stays its own; once the holder is gone it is taken over at once, and the old claim is fenced', async () => {
    await put(1, 10)
    const h = await holder()
    expect(await inbox.claim(db.pool, { ...LEASE, limit: 10, claimant: h.claimant })).toHaveLength(1)
    expect(await inbox.claim(db.pool, { ...LEASE, limit: 10, claimant: 'b' })).toEqual([])
    expect(await inbox.failExhausted(db.pool, 1)).toEqual([])
    await h.die()
    expect(await inbox.claim(db.pool, { ...LEASE, limit: 10, claimant: 'b' })).toMatchObject([{ updateId: 1, attempts: 2 }])
    expect(await inbox.complete(db.pool, 1, h.claimant)).toBe(false)
    expect(await inbox.complete(db.pool, 1, 'b')).toBe(true)
  })

  test.skipIf(skip)('an update running under a dead holder no longer holds back the event queued before it in its lane', async () => {
    await put(50, 10)
    const h = await holder()
    await inbox.claim(db.pool, { ...LEASE, limit: 10, claimant: h.claimant })
    const event = await inbox.enqueueEvent(db.pool, 10, { type: 'x' })
    expect(await inbox.claim(db.pool, { ...LEASE, limit: 10, claimant: 'b' })).toEqual([]) // 50 runs, alive
    await h.die()
    expect((await inbox.claim(db.pool, { ...LEASE, limit: 10, claimant: 'b' })).map((r) => r.updateId)).toEqual([event])
    await inbox.complete(db.pool, event, 'b')
    expect((await inbox.claim(db.pool, { ...LEASE, limit: 10, claimant: 'b' })).map((r) => r.updateId)).toEqual([50])
  })

  test.skipIf(skip)('a dead holder\'s update on its last attempt is failed at once, a live one\'s is not', async () => {
    await put(1, 10)
    const h = await holder()
    await inbox.claim(db.pool, { ...LEASE, limit: 10, claimant: h.claimant })
    expect(await inbox.failExhausted(db.pool, 1)).toEqual([])
    await h.die()
    expect((await inbox.failExhausted(db.pool, 1)).map((r) => r.updateId)).toEqual([1])
  })

  test.skipIf(skip)('a dead holder\'s running task is failed and told at once, a live one\'s is left alone', async () => {
    const t = await newTask()
    const h = await holder()
    expect((await claimTask(db.pool, h.claimant, LEASE.leaseMs))?.id).toBe(t.id)
    expect(await recoverExpired(db.pool)).toEqual([])
    await h.die()
    expect((await recoverExpired(db.pool)).map((r) => r.id)).toEqual([t.id])
    expect(await getTask(db.pool, t.id)).toMatchObject({ status: 'failed', error: 'stopped_running' })
  })

  test.skipIf(skip)('the check reads pg_locks once per statement and is inlined, not run as a function per row', async () => {
    // One function doing both cost ~0.25 ms a row (it read pg_locks each time): a backlog made claims several times slower.
    const { rows } = await db.pool.query<{ 'QUERY PLAN': string }>(
      `explain (verbose, costs off) select update_id from inbox where status = 'running' and not claim_held(lease_until, claimed_by, (select live_lock_keys()))`,
    )
    const plan = rows.map((r) => r['QUERY PLAN']).join('\n')
    expect(plan).toMatch(/InitPlan/)
    expect(plan).toMatch(/live_lock_keys\(\)/)
    expect(plan).not.toMatch(/claim_held\(/)
  })

  test.skipIf(skip)('ProcessLiveness keeps its claims alive without holding a pool client, and releasing it lets them be taken over', async () => {
    await put(1, 10)
    const liveness = await ProcessLiveness.acquire(db, quietLog)
    expect(liveness.held).toBe(true)
    expect(liveness.claimant).toMatch(/#lock:-?\d+$/)
    // The embedded pool has one client: a lock that kept it checked out would make this hang.
    const { rows } = await db.pool.query<{ one: number }>({ text: 'select 1 as one', query_timeout: 2000 } as pg.QueryConfig)
    expect(rows).toEqual([{ one: 1 }])
    expect(await inbox.claim(db.pool, { ...LEASE, limit: 10, claimant: liveness.claimant })).toHaveLength(1)
    expect(await inbox.claim(db.pool, { ...LEASE, limit: 10, claimant: 'b' })).toEqual([])
    await liveness.release()
    expect(liveness.held).toBe(false)
    expect(await inbox.claim(db.pool, { ...LEASE, limit: 10, claimant: 'b' })).toHaveLength(1)
  })
})

describe.skipIf(!TEST_DATABASE_URL)('liveness across processes (native Postgres; skipped without TEST_DATABASE_URL)', () => {
  let db: Awaited<ReturnType<typeof openPreparedDatabase>>
  beforeAll(async () => {
    db = await openPreparedDatabase()
  })
  afterAll(() => db.close())

  test('a process killed with -9 loses its claim at once: another takes it over long before the lease', async () => {
    await inbox.enqueue(db.pool, { updateId: 7, lane: 70, kind: 'message', payload: {} })
    const child = spawn(process.execPath, [HOLDER, db.spec.url!, '7'], { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    child.stdout.on('data', (c: Buffer) => (out += c.toString()))
    child.stderr.on('data', (c: Buffer) => (out += c.toString()))
    const { claimant } = JSON.parse(await waitUntil(() => out.split('\n').find((l) => l.startsWith('{')), `the holder's claim (${out})`, 20_000)) as { claimant: string }
    expect(await inbox.claim(db.pool, { ...LEASE, limit: 1, claimant: 'b' })).toEqual([])
    const exited = new Promise((r) => child.once('exit', r))
    child.kill('SIGKILL')
    await exited
    const killedAt = Date.now()
    const [row] = await waitUntil(async () => {
      const rows = await inbox.claim(db.pool, { ...LEASE, limit: 1, claimant: 'b' })
      return rows.length ? rows : undefined
    }, 'the take-over', 5000)
    expect(row).toMatchObject({ updateId: 7, attempts: 2 })
    expect(Date.now() - killedAt).toBeLessThan(2000)
    expect(await inbox.renewLease(db.pool, 7, claimant, 60_000)).toBe(false)
  })

  test('a broken liveness connection is replaced: the claims look dead only until the lock is taken again', async () => {
    await db.pool.query('truncate inbox')
    await inbox.enqueue(db.pool, { updateId: 8, lane: 80, kind: 'message', payload: {} })
    const liveness = await ProcessLiveness.acquire(db, quietLog, { retryMs: 300 })
    try {
      await inbox.claim(db.pool, { ...LEASE, limit: 1, claimant: liveness.claimant })
      const sessionOf = async () =>
        (await db.pool.query<{ pid: number }>(
          `select pid from pg_locks where locktype = 'advisory' and granted and objsubid = 1
             and classid = (($1::bigint >> 32) & 4294967295)::oid and objid = ($1::bigint & 4294967295)::oid`,
          [liveness.key],
        )).rows[0]?.pid
      const before = await sessionOf()
      expect(before).toBeGreaterThan(0)
      await db.pool.query('select pg_terminate_backend($1)', [before])
      await waitUntil(() => !liveness.held || undefined, 'the break noticed', 5000)
      const held = async () => (await db.pool.query<{ held: boolean }>('select claim_held(lease_until, claimed_by, (select live_lock_keys())) as held from inbox where update_id = 8')).rows[0]?.held
      expect(await held()).toBe(false) // the retry waits 300 ms: this is the gap the residual risk is about
      await waitUntil(() => liveness.held || undefined, 'the lock taken again', 5000)
      const after = await sessionOf()
      expect(after).toBeGreaterThan(0)
      expect(after).not.toBe(before)
      expect(await held()).toBe(true)
      expect(await inbox.claim(db.pool, { ...LEASE, limit: 1, claimant: 'b' })).toEqual([]) // alive again
      expect(await inbox.renewLease(db.pool, 8, liveness.claimant, 60_000)).toBe(true)
    } finally {
      await liveness.release()
    }
  })
})
