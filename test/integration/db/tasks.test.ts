import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { cancelChatTask, claimTask, createTask, finishStep, getTask, markReported, queuePosition, queueStep, recoverExpired, renewTask, requeueTask } from '../../../db/tasks.ts'
import { openPreparedDatabase } from '../../support/database.ts'

let db: Awaited<ReturnType<typeof openPreparedDatabase>>
beforeAll(async () => {
  db = await openPreparedDatabase()
})
afterAll(() => db.close())

let n = 0
const task = (chatId = 7) => createTask(db.pool, { chatId, threadId: 't', requesterId: 1, agent: 'coder', source: `s${++n}`, input: { instructions: 'do it', files: [] } })
/** Events queued for the chats, in order. */
const events = async () => (await db.pool.query<{ lane: string; payload: { event: { taskId: string } } }>(`select lane, payload from inbox where kind = 'mechanic_event' order by update_id`)).rows
const clear = async () => {
  await db.pool.query('delete from approval_requests')
  await db.pool.query('delete from tasks')
  await db.pool.query('delete from inbox')
}

describe('tasks', () => {
  test('one task per source: a retried tool run gets the same task', async () => {
    await clear()
    const a = await createTask(db.pool, { chatId: 7, threadId: 't', requesterId: 1, agent: 'coder', source: 'same', input: { instructions: 'x', files: [] } })
    const b = await createTask(db.pool, { chatId: 7, threadId: 't', requesterId: 1, agent: 'coder', source: 'same', input: { instructions: 'y', files: [] } })
    expect(b.id).toBe(a.id)
    expect(b.input.instructions).toBe('x')
    expect(a.id).toMatch(/^[a-z0-9]{7,8}$/)
  })

  test('claims go oldest first, once each; the claimant keeps its lease and is fenced', async () => {
    await clear()
    const first = await task()
    const second = await task()
    expect(await queuePosition(db.pool, second.id)).toBe(1)
    const claims = await Promise.all(['A', 'B', 'C'].map((who) => claimTask(db.pool, who, 60_000)))
    const won = claims.filter((c) => c !== undefined)
    expect(won.map((c) => c.id).sort()).toEqual([first.id, second.id].sort()) // each once, the third claimant got none
    const a = won.find((c) => c.id === first.id)
    expect(a?.attempts).toBe(1)
    expect(await renewTask(db.pool, a!.id, a!.claimedBy!, 60_000)).toBe('go')
    expect(await renewTask(db.pool, a!.id, 'someone else', 60_000)).toBe('lost')
    expect(await finishStep(db.pool, { id: a!.id, claimant: 'someone else', status: 'failed' })).toBeUndefined()
    const done = await finishStep(db.pool, { id: a!.id, claimant: a!.claimedBy!, status: 'waiting', result: { branch: 'b', patch: 'p' } })
    expect(done).toMatchObject({ status: 'waiting', claimedBy: null, result: { branch: 'b', patch: 'p' } })
    expect((await events()).map((e) => e.payload.event.taskId)).toEqual([a!.id])
  })

  test('a push decision queues the next step only while the task waits', async () => {
    await clear()
    const t = await task()
    const claimed = await claimTask(db.pool, 'A', 60_000)
    expect(await queueStep(db.pool, t.id, 'push')).toBeUndefined() // still running
    await finishStep(db.pool, { id: t.id, claimant: claimed!.claimedBy!, status: 'waiting', result: { patch: 'p' } })
    expect(await queueStep(db.pool, t.id, 'push')).toMatchObject({ status: 'queued', step: 'push', result: { patch: 'p' } })
    expect(await queueStep(db.pool, t.id, 'discard')).toBeUndefined() // decided once
  })

  test('a running task whose lease ran out is failed and told, once; a shut-down one goes back to the queue', async () => {
    await clear()
    const dead = await task()
    await claimTask(db.pool, 'dead', 1)
    await new Promise((r) => setTimeout(r, 20))
    const [a, b] = await Promise.all([recoverExpired(db.pool), recoverExpired(db.pool)])
    expect([...a, ...b].map((t) => t.id)).toEqual([dead.id])
    expect(await getTask(db.pool, dead.id)).toMatchObject({ status: 'failed', error: 'stopped_running' })
    expect(await events()).toHaveLength(1)

    const stopped = await task()
    await claimTask(db.pool, 'S', 60_000)
    await requeueTask(db.pool, stopped.id, 'S')
    expect(await getTask(db.pool, stopped.id)).toMatchObject({ status: 'queued', attempts: 0, claimedBy: null })
  })

  test('/cancel: a queued task at once, a running one flagged for its runner; only for who may', async () => {
    await clear()
    const queued = await task(9)
    expect(await cancelChatTask(db.pool, 9, () => false)).toMatchObject({ how: 'denied' })
    expect(await cancelChatTask(db.pool, 9, () => true)).toMatchObject({ how: 'cancelled', task: { id: queued.id, status: 'cancelled' } })
    const running = await task(9)
    const claimed = await claimTask(db.pool, 'R', 60_000)
    expect(claimed?.id).toBe(running.id)
    expect(await cancelChatTask(db.pool, 9, () => true)).toMatchObject({ how: 'stopping' })
    expect(await renewTask(db.pool, running.id, 'R', 60_000)).toBe('cancel')
    expect(await cancelChatTask(db.pool, 8, () => true)).toBeUndefined()
  })

  test('a report is recorded once per state', async () => {
    await clear()
    const t = await task()
    expect(await markReported(db.pool, t.id, 'waiting:code')).toBe(true)
    expect(await markReported(db.pool, t.id, 'waiting:code')).toBe(false)
    expect(await markReported(db.pool, t.id, 'completed:push')).toBe(true)
  })
})
