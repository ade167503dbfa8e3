import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'vitest'
import * as inbox from '../../../db/inbox.ts'
import { migrate } from '../../../db/migrate.ts'
import { openTestDatabase, quietLog } from '../../support/database.ts'

let db: Awaited<ReturnType<typeof openTestDatabase>>
const opts = { limit: 10, leaseMs: 60_000, claimant: 'a' }
const put = (updateId: number, lane: number) => inbox.enqueue(db.pool, { updateId, lane, kind: 'message', payload: { update_id: updateId } })

beforeAll(async () => {
  db = await openTestDatabase()
  await migrate(db.pool, quietLog)
})
afterAll(() => db.close())
beforeEach(async () => {
  await db.pool.query('truncate inbox')
})

describe('inbox', () => {
  test('a repeated update_id is stored once', async () => {
    expect(await put(1, 10)).toBe(true)
    expect(await put(1, 10)).toBe(false)
    expect((await inbox.stats(db.pool)).depth).toBe(1)
  })

  test('claims only the oldest update of each lane, so a lane runs one at a time in order', async () => {
    for (const [id, lane] of [[1, 10], [2, 10], [3, 20], [4, 10], [5, 30]] as const) await put(id, lane)
    expect((await inbox.claim(db.pool, opts)).map((r) => r.updateId)).toEqual([1, 3, 5])
    expect(await inbox.claim(db.pool, { ...opts, claimant: 'b' })).toEqual([]) // heads are running
    expect(await inbox.complete(db.pool, 1, 'a')).toBe(true)
    expect((await inbox.claim(db.pool, { ...opts, claimant: 'b' })).map((r) => r.updateId)).toEqual([2])
  })

  test('respects the limit', async () => {
    for (let i = 1; i <= 5; i++) await put(i, i)
    expect(await inbox.claim(db.pool, { ...opts, limit: 2 })).toHaveLength(2)
  })

  test('concurrent claimers never get the same update or two of one lane', async () => {
    for (let i = 1; i <= 60; i++) await put(i, i % 6)
    const claimed = new Map<number, string>()
    const lanesRunning = new Set<number>()
    let overlap = false
    // Claim, then complete, from four claimers racing until the inbox is empty.
    await Promise.all(['w1', 'w2', 'w3', 'w4'].map(async (claimant) => {
      for (;;) {
        const rows = await inbox.claim(db.pool, { limit: 2, leaseMs: 60_000, claimant })
        if (rows.length === 0 && (await inbox.stats(db.pool)).depth === 0) return
        for (const r of rows) {
          if (claimed.has(r.updateId) || lanesRunning.has(r.lane)) overlap = true
          claimed.set(r.updateId, claimant)
          lanesRunning.add(r.lane)
        }
        await new Promise((r) => setTimeout(r, 2))
        for (const r of rows) {
          lanesRunning.delete(r.lane)
          expect(await inbox.complete(db.pool, r.updateId, claimant)).toBe(true)
        }
      }
    }))
    expect(overlap).toBe(false)
    expect(claimed.size).toBe(60)
  })

  test('a claim whose lease ran out is taken over, and the old claimant can no longer complete it', async () => {
    await put(1, 10)
    await inbox.claim(db.pool, { ...opts, leaseMs: 50 })
    expect(await inbox.claim(db.pool, { ...opts, claimant: 'b' })).toEqual([])
    await new Promise((r) => setTimeout(r, 120))
    const [row] = await inbox.claim(db.pool, { ...opts, claimant: 'b' })
    expect(row).toMatchObject({ updateId: 1, attempts: 2 })
    expect(await inbox.complete(db.pool, 1, 'a')).toBe(false)
    expect(await inbox.renewLease(db.pool, 1, 'a', 1000)).toBe(false)
    expect(await inbox.complete(db.pool, 1, 'b')).toBe(true)
  })

  test('a failure is retried after a delay, and marked failed after the last attempt', async () => {
    await put(1, 10)
    await inbox.claim(db.pool, opts)
    expect(await inbox.recordFailure(db.pool, 1, 'a', { error: 'boom', retryInMs: 100, maxAttempts: 2 })).toBe('queued')
    expect(await inbox.claim(db.pool, opts)).toEqual([]) // not yet due
    await new Promise((r) => setTimeout(r, 150))
    expect(await inbox.claim(db.pool, opts)).toHaveLength(1)
    expect(await inbox.recordFailure(db.pool, 1, 'a', { error: 'boom again', retryInMs: 0, maxAttempts: 2 })).toBe('failed')
    expect(await inbox.stats(db.pool)).toMatchObject({ depth: 0, failedLastDay: 1 })
  })

  test('a failed update no longer blocks its lane', async () => {
    await put(1, 10)
    await put(2, 10)
    await inbox.claim(db.pool, opts)
    await inbox.recordFailure(db.pool, 1, 'a', { error: 'x', retryInMs: 0, maxAttempts: 1 })
    expect((await inbox.claim(db.pool, opts)).map((r) => r.updateId)).toEqual([2])
  })

  test('an expired claim on its last attempt is failed and reported once', async () => {
    await put(1, 10)
    await inbox.claim(db.pool, { ...opts, leaseMs: 10 })
    await new Promise((r) => setTimeout(r, 50))
    expect((await inbox.failExhausted(db.pool, 1)).map((r) => r.updateId)).toEqual([1])
    expect(await inbox.failExhausted(db.pool, 1)).toEqual([])
  })

  test('releasing claims at shutdown queues them again without counting the attempt', async () => {
    await put(1, 10)
    await inbox.claim(db.pool, opts)
    expect(await inbox.releaseClaims(db.pool, 'a')).toBe(1)
    const [row] = await inbox.claim(db.pool, { ...opts, claimant: 'b' })
    expect(row?.attempts).toBe(1)
  })

  test('stats report depth and the age of the oldest queued update; prune keeps recent rows', async () => {
    await put(1, 10)
    await db.pool.query(`update inbox set received_at = now() - interval '30 seconds'`)
    const s = await inbox.stats(db.pool)
    expect(s.depth).toBe(1)
    expect(s.oldestQueuedSeconds).toBeGreaterThanOrEqual(29)
    await inbox.claim(db.pool, opts)
    await inbox.complete(db.pool, 1, 'a')
    expect(await inbox.prune(db.pool, 7)).toBe(0)
    await db.pool.query(`update inbox set finished_at = now() - interval '8 days'`)
    expect(await inbox.prune(db.pool, 7)).toBe(1)
  })
})

describe('internal events', () => {
  test('sort first in their lane, in the order queued, yet never run beside an update running there', async () => {
    await db.pool.query('truncate inbox')
    await put(50, 10)
    await put(51, 10)
    const [running] = await inbox.claim(db.pool, opts)
    expect(running?.updateId).toBe(50)
    const first = await inbox.enqueueEvent(db.pool, 10, { type: 'x', n: 1 })
    const second = await inbox.enqueueEvent(db.pool, 10, { type: 'x', n: 2 })
    expect(first).toBeLessThan(0)
    expect(second).toBeGreaterThan(first)
    expect(await inbox.claim(db.pool, opts)).toEqual([]) // 50 is still running
    await inbox.complete(db.pool, 50, 'a')
    const [event] = await inbox.claim(db.pool, opts)
    expect(event).toMatchObject({ updateId: first, kind: inbox.INTERNAL_EVENT, payload: { event: { type: 'x', n: 1 } } })
    await inbox.complete(db.pool, first, 'a')
    expect((await inbox.claim(db.pool, opts)).map((r) => r.updateId)).toEqual([second])
  })
})

describe('ingest and claim under load', () => {
  test('a batch is one statement: repeats inside it and of earlier rows change nothing, and only the new ids come back', async () => {
    await put(1, 10)
    const before = db.statements()
    const fresh = await inbox.enqueueMany(db.pool, [1, 2, 3, 3].map((updateId) => ({ updateId, lane: 10, kind: 'message', payload: { update_id: updateId, text: "it's \"quoted\" \\ and ünïcode" } })))
    expect(db.statements() - before).toBe(1)
    expect([...fresh].sort()).toEqual([2, 3])
    const { rows } = await db.pool.query<{ payload: { text: string } }>('select payload from inbox where update_id = 3')
    expect(rows[0]?.payload.text).toBe("it's \"quoted\" \\ and ünïcode")
  })

  test('the claim takes lane heads in order from a deep backlog planned on an empty inbox (stale statistics)', async () => {
    await db.pool.query('analyze inbox') // planned while empty, as after a quiet night
    const updates = Array.from({ length: 6000 }, (_, i) => ({ updateId: i + 1, lane: (i % 300) + 1, kind: 'message', payload: {} }))
    for (let i = 0; i < updates.length; i += 1000) await inbox.enqueueMany(db.pool, updates.slice(i, i + 1000))
    const first = await inbox.claim(db.pool, { ...opts, limit: 50 })
    expect(first.map((r) => r.updateId)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1))
    // Every one of those lanes is busy now: the next claim goes on with the next lanes' heads.
    const second = await inbox.claim(db.pool, { ...opts, limit: 50, claimant: 'b' })
    expect(second.map((r) => r.updateId)).toEqual(Array.from({ length: 50 }, (_, i) => i + 51))
    await inbox.complete(db.pool, 1, 'a')
    // Heads go oldest first: lanes not started yet (101 on) before lane 1's next update (301), now claimable too.
    expect((await inbox.claim(db.pool, { ...opts, limit: 1, claimant: 'c' })).map((r) => r.updateId)).toEqual([101])
    expect((await inbox.claim(db.pool, { ...opts, limit: 300, claimant: 'c' })).map((r) => r.updateId)).toContain(301)
  })

  test('a chat whose message waits long behind a backlog is told once per backlog', async () => {
    await db.pool.query('truncate inbox_backlog_notes')
    const message = (updateId: number, lane: number, topic?: number) => ({ updateId, lane, kind: 'message', payload: { update_id: updateId, message: { chat: { id: lane }, ...(topic && { message_thread_id: topic }) } } })
    await inbox.enqueueMany(db.pool, [message(1, 10), message(2, 10), message(3, 20, 7), message(4, 30)])
    await inbox.claim(db.pool, { ...opts, limit: 1 }) // lane 10 runs 1; 2 waits behind it
    expect(await inbox.lanesBehind(db.pool, 30)).toEqual([]) // nobody has waited 30 s yet
    await db.pool.query(`update inbox set received_at = now() - interval '1 minute' where update_id in (2, 3)`)
    const told = await inbox.lanesBehind(db.pool, 30)
    expect(told.sort((a, b) => a.lane - b.lane)).toEqual([{ lane: 10, topicId: undefined }, { lane: 20, topicId: 7 }])
    await inbox.enqueueMany(db.pool, [message(5, 10)])
    await db.pool.query(`update inbox set received_at = now() - interval '1 minute' where update_id = 5`)
    expect(await inbox.lanesBehind(db.pool, 30)).toEqual([]) // the same backlog: no second note
    // Lane 10 drains; its next long wait is a new backlog and gets a note again.
    await db.pool.query(`update inbox set status = 'done', finished_at = now() where lane = 10`)
    expect(await inbox.lanesBehind(db.pool, 30)).toEqual([])
    await inbox.enqueueMany(db.pool, [message(6, 10)])
    await db.pool.query(`update inbox set received_at = now() - interval '1 minute' where update_id = 6`)
    expect(await inbox.lanesBehind(db.pool, 30)).toEqual([{ lane: 10, topicId: undefined }])
  })
})

describe('what the claim refuses', () => {
  test('a dead claim on its last attempt is left to the sweep, which fails it, instead of running a fourth time', async () => {
    await db.pool.query('truncate inbox')
    await put(1, 10)
    await inbox.claim(db.pool, { ...opts, claimant: 'dead' })
    await db.pool.query(`update inbox set attempts = 3, lease_until = now() - interval '1 second' where update_id = 1`)
    expect(await inbox.claim(db.pool, { ...opts, maxAttempts: 3 })).toEqual([])
    expect((await inbox.failExhausted(db.pool, 3)).map((r) => r.updateId)).toEqual([1])
    await db.pool.query(`update inbox set status = 'running', attempts = 2, finished_at = null, lease_until = now() - interval '1 second' where update_id = 1`)
    expect((await inbox.claim(db.pool, { ...opts, maxAttempts: 3 })).map((r) => [r.updateId, r.attempts])).toEqual([[1, 3]])
  })

  test('a payload with the NUL character that JSON allows and jsonb refuses is stored, the NUL replaced', async () => {
    await db.pool.query('truncate inbox')
    const fresh = await inbox.enqueueMany(db.pool, [{ updateId: 5, lane: 1, kind: 'message', payload: { text: 'a\u0000b', literal: 'back\\u0000slash' } }])
    expect([...fresh]).toEqual([5])
    const { rows } = await db.pool.query<{ payload: { text: string; literal: string } }>('select payload from inbox where update_id = 5')
    expect(rows[0]?.payload).toEqual({ text: 'a\ufffdb', literal: 'back\\u0000slash' })
  })
})
