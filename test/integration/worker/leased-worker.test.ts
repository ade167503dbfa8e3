import { AsyncLocalStorage } from 'node:async_hooks'
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest'
import { cancelChatTask, claimTask, createTask, finishStep, getTask, recoverExpired, renewTask, requeueTask } from '../../../db/tasks.ts'
import type { TaskRow } from '../../../db/tasks.ts'
import { LeasedWorker } from '../../../worker/leased-worker.ts'
import type { LeasedWorkerOptions } from '../../../worker/leased-worker.ts'
import { TEST_DATABASE_URL, openPreparedDatabase, quietLog } from '../../support/database.ts'
import { sleep, waitUntil } from '../../support/http.ts'

// The base is exercised on the tasks table through its real repository functions: their renewal
// answers all three of 'go', 'cancel' and 'lost'.
describe.each([
  { mode: 'native Postgres', embedded: false },
  { mode: 'embedded PGlite', embedded: true },
])('LeasedWorker ($mode)', ({ embedded }) => {
  let db: Awaited<ReturnType<typeof openPreparedDatabase>>
  let n = 0
  const skip = !embedded && !TEST_DATABASE_URL
  beforeAll(async () => {
    if (!skip) db = await openPreparedDatabase({ embedded })
  })
  afterAll(() => db?.close())
  const workers: Array<LeasedWorker<TaskRow>> = []
  afterEach(async () => {
    // A failed test must not leave a worker claiming in the next one.
    await Promise.all(workers.splice(0).map((w) => w.stop(0)))
  })

  const clear = async () => {
    await db.pool.query('delete from approval_requests')
    await db.pool.query('delete from tasks')
    await db.pool.query('delete from inbox')
  }
  const newTask = (chatId = 7) => createTask(db.pool, { chatId, threadId: 't', requesterId: 1, agent: 'coder', source: `s${++n}`, input: { instructions: 'x', files: [] } })

  /** A worker over the tasks table; `run` is the test's. */
  function worker(leaseMs: number, o: Partial<LeasedWorkerOptions<TaskRow>> & Pick<LeasedWorkerOptions<TaskRow>, 'run'>): LeasedWorker<TaskRow> {
    const w = new LeasedWorker<TaskRow>({
      name: 'test',
      log: quietLog,
      concurrency: 2,
      pollMs: 50,
      renewEveryMs: Math.max(50, leaseMs / 4),
      keyOf: (t) => t.id,
      claim: async (limit, claimant) => {
        const out: TaskRow[] = []
        while (out.length < limit) {
          const t = await claimTask(db.pool, claimant, leaseMs)
          if (!t) break
          out.push(t)
        }
        return out
      },
      renew: (t, claimant) => renewTask(db.pool, t.id, claimant, leaseMs),
      handBack: async (unfinished, claimant) => {
        let back = 0
        for (const { job, settled } of unfinished) {
          await settled
          if (await requeueTask(db.pool, job.id, claimant)) back++
        }
        return back
      },
      ...o,
    })
    workers.push(w)
    return w
  }

  test.skipIf(skip)('runs at most `concurrency` jobs and keeps their leases alive past the lease length while they run', async () => {
    await clear()
    const ids = [(await newTask()).id, (await newTask()).id, (await newTask()).id]
    let running = 0
    let peak = 0
    const done: string[] = []
    const w = worker(400, {
      run: async (t) => {
        peak = Math.max(peak, ++running)
        await sleep(1200) // three lease lengths
        running--
        await finishStep(db.pool, { id: t.id, claimant: t.claimedBy!, status: 'completed' })
        done.push(t.id)
      },
    })
    w.start()
    // Another instance's recovery keeps looking for dead claims the whole time: renewals keep it from finding any.
    const recovered: TaskRow[] = []
    while (done.length < 3) {
      recovered.push(...(await recoverExpired(db.pool)))
      await sleep(50)
    }
    await w.stop(1000)
    expect(recovered).toEqual([])
    expect(peak).toBe(2)
    expect(done.sort()).toEqual([...ids].sort())
    for (const id of ids) expect(await getTask(db.pool, id)).toMatchObject({ status: 'completed', attempts: 1 })
  })

  test.skipIf(skip)("a renewal that finds the job cancelled or taken aborts its signal with that reason, where the user's abortOn wants", async () => {
    await clear()
    const cancelled = await newTask(1)
    const stolen = await newTask(2)
    const kept = await newTask(3)
    const reasons = new Map<string, unknown>()
    const w = worker(600, {
      concurrency: 3,
      abortOn: (t) => t.id !== kept.id,
      run: async (t, signal) => {
        await Promise.race([new Promise((r) => signal.addEventListener('abort', r, { once: true })), sleep(3000)])
        reasons.set(t.id, signal.aborted ? signal.reason : 'not aborted')
      },
    })
    w.start()
    await waitUntil(() => w.active === 3, 'three running jobs')
    expect((await cancelChatTask(db.pool, 1, () => true))?.how).toBe('stopping')
    await cancelChatTask(db.pool, 3, () => true)
    await db.pool.query(`update tasks set claimed_by = 'another instance' where id = $1`, [stolen.id])
    await waitUntil(() => reasons.size === 3, 'every job to end', 5000)
    expect(Object.fromEntries(reasons)).toEqual({ [cancelled.id]: 'cancel', [stolen.id]: 'lost', [kept.id]: 'not aborted' })
    await w.stop(100)
  })

  test.skipIf(skip)('stop waits out the grace, then aborts the rest with "shutdown" and hands them back once they settled; nothing is claimed after', async () => {
    await clear()
    const quick = await newTask()
    const slow = await newTask()
    let cleanedUp = false
    let reason: unknown
    const w = worker(10_000, {
      run: async (t, signal) => {
        if (t.id === quick.id) {
          await sleep(100)
          await finishStep(db.pool, { id: t.id, claimant: t.claimedBy!, status: 'completed' })
          return
        }
        await new Promise((r) => signal.addEventListener('abort', r, { once: true }))
        reason = signal.reason
        await sleep(300) // cleaning up before the hand-back
        cleanedUp = true
      },
    })
    w.start()
    await waitUntil(() => w.active === 2, 'both running')
    const started = Date.now()
    expect(await w.stop(500)).toEqual({ finished: false, handedBack: 1 })
    expect(Date.now() - started).toBeGreaterThanOrEqual(750) // the grace, then the clean-up
    expect(reason).toBe('shutdown')
    expect(cleanedUp).toBe(true)
    expect(await getTask(db.pool, quick.id)).toMatchObject({ status: 'completed' })
    expect(await getTask(db.pool, slow.id)).toMatchObject({ status: 'queued', attempts: 0, claimedBy: null })
    w.wake()
    await sleep(200)
    expect(await getTask(db.pool, slow.id)).toMatchObject({ status: 'queued' })
  })

  test.skipIf(skip)('stop with nothing unfinished reports finished and hands back nothing', async () => {
    await clear()
    await newTask()
    const w = worker(10_000, { run: async (t) => void (await finishStep(db.pool, { id: t.id, claimant: t.claimedBy!, status: 'completed' })) })
    w.start()
    await waitUntil(async () => (await db.pool.query(`select 1 from tasks where status = 'completed'`)).rowCount === 1, 'the job done')
    expect(await w.stop(1000)).toEqual({ finished: true, handedBack: 0 })
  })

  test.skipIf(skip)("a wake from inside another async context does not pass that context on to the jobs", async () => {
    await clear()
    const als = new AsyncLocalStorage<string>()
    const seen: Array<string | undefined> = []
    const w = worker(10_000, {
      pollMs: 60_000, // only wakes find work
      run: async (t) => {
        seen.push(als.getStore())
        await finishStep(db.pool, { id: t.id, claimant: t.claimedBy!, status: 'completed' })
      },
    })
    w.start()
    await sleep(100) // the first poll found nothing
    await newTask()
    als.run('a graph run', () => w.wake())
    await waitUntil(() => seen.length === 1, 'the job')
    await w.stop(1000)
    expect(seen).toEqual([undefined])
  })
})
