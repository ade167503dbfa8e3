import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { Dispatcher } from '../../../bot/dispatcher.ts'
import * as inbox from '../../../db/inbox.ts'
import type { InboxRow } from '../../../db/inbox.ts'
import { migrate } from '../../../db/migrate.ts'
import { openTestDatabase, quietLog } from '../../support/database.ts'
import { sleep, waitUntil } from '../../support/http.ts'

let db: Awaited<ReturnType<typeof openTestDatabase>>
beforeAll(async () => {
  db = await openTestDatabase()
  await migrate(db.pool, quietLog)
})
afterAll(() => db.close())

const settings = { leaseMs: 10_000, maxAttempts: 3, concurrency: 3, pollMs: 50 }

describe('Dispatcher', () => {
  test('runs at most `concurrency` handlers, one per lane, each update once, in lane order', async () => {
    await db.pool.query('truncate inbox')
    for (let i = 1; i <= 24; i++) await inbox.enqueue(db.pool, { updateId: i, lane: i % 4, kind: 'message', payload: {} })
    let running = 0
    let peak = 0
    const lanesRunning = new Set<number>()
    const handled: InboxRow[] = []
    let laneOverlap = false
    const d = new Dispatcher({
      pool: db.pool, log: quietLog, ...settings,
      handle: async (row) => {
        if (lanesRunning.has(row.lane)) laneOverlap = true
        lanesRunning.add(row.lane)
        peak = Math.max(peak, ++running)
        await sleep(15)
        running--
        lanesRunning.delete(row.lane)
        handled.push(row)
      },
      onGiveUp: async () => undefined,
    })
    d.start()
    await waitUntil(() => handled.length === 24, 'all updates handled')
    await d.stop(1000)
    expect(peak).toBe(3)
    expect(laneOverlap).toBe(false)
    expect(new Set(handled.map((r) => r.updateId)).size).toBe(24)
    for (const lane of [0, 1, 2, 3]) {
      const ids = handled.filter((r) => r.lane === lane).map((r) => r.updateId)
      expect(ids).toEqual([...ids].sort((a, b) => a - b))
    }
  })

  test('a throwing handler is retried, then given up on once with the person told', async () => {
    await db.pool.query('truncate inbox')
    await inbox.enqueue(db.pool, { updateId: 1, lane: 5, kind: 'message', payload: {} })
    let calls = 0
    const gaveUp: number[] = []
    const d = new Dispatcher({
      pool: db.pool, log: quietLog, ...settings, maxAttempts: 2,
      handle: async () => {
        calls++
        throw new Error('always broken')
      },
      onGiveUp: async (row) => {
        gaveUp.push(row.updateId)
      },
    })
    d.start()
    await waitUntil(() => gaveUp.length === 1, 'give-up')
    await sleep(300)
    await d.stop(1000)
    expect(calls).toBe(2)
    expect(gaveUp).toEqual([1])
    const { rows } = await db.pool.query<{ status: string; error: string }>('select status, error from inbox where update_id = 1')
    expect(rows[0]).toEqual({ status: 'failed', error: 'Error: always broken' })
  })
})
