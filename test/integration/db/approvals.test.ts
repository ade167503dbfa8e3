import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { createApproval, decide, expireDue, getApproval, listPending } from '../../../db/approvals.ts'
import * as inbox from '../../../db/inbox.ts'
import { openPreparedDatabase } from '../../support/database.ts'

let db: Awaited<ReturnType<typeof openPreparedDatabase>>
beforeAll(async () => {
  db = await openPreparedDatabase()
})
afterAll(() => db.close())

let n = 0
const request = (ttlMs = 60_000) =>
  createApproval(db.pool, { chatId: 7, requesterId: 1, threadId: 't', interruptId: `i${++n}`, type: 'tool', payload: { tool: 'x', args: {}, description: 'd' }, ttlMs })

describe('approval_requests', () => {
  test('one row per interrupt: a retried handler gets the same request', async () => {
    const a = await createApproval(db.pool, { chatId: 7, requesterId: 1, threadId: 't', interruptId: 'same', type: 'plan', payload: { tool: 'x', args: {}, description: 'd' }, ttlMs: 1000 })
    const b = await createApproval(db.pool, { chatId: 7, requesterId: 1, threadId: 't', interruptId: 'same', type: 'plan', payload: { tool: 'x', args: {}, description: 'd' }, ttlMs: 1000 })
    expect(b.id).toBe(a.id)
    expect(a.id).toMatch(/^[A-Za-z0-9_-]{12}$/)
  })

  test('of ten concurrent decisions exactly one wins', async () => {
    const row = await request()
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) => decide(db.pool, { id: row.id, status: i % 2 ? 'approved' : 'rejected', by: i, decision: { type: 'approve' }, updateId: i })),
    )
    expect(results.filter(Boolean)).toHaveLength(1)
    expect((await getApproval(db.pool, row.id))?.status).toMatch(/approved|rejected/)
  })

  test('an expired request can no longer be decided', async () => {
    const row = await request(1)
    await new Promise((r) => setTimeout(r, 20))
    expect(await decide(db.pool, { id: row.id, status: 'approved', by: 1, decision: { type: 'approve' }, updateId: 1 })).toBeUndefined()
    expect((await listPending(db.pool)).map((r) => r.id)).not.toContain(row.id)
  })

  test('expiry marks due requests and queues their events in the same transaction, once', async () => {
    await db.pool.query(`update approval_requests set status = 'cancelled' where status = 'pending'`)
    await db.pool.query('truncate inbox')
    const due = await request(1)
    const later = await request(60_000)
    await new Promise((r) => setTimeout(r, 20))
    const expired = await expireDue(db.pool, (client, row) => inbox.enqueueEvent(client, row.chatId, { type: 'approval_expired', approvalId: row.id }).then(() => undefined))
    expect(expired.map((r) => r.id)).toEqual([due.id])
    expect(await expireDue(db.pool, async () => undefined)).toEqual([])
    expect((await getApproval(db.pool, due.id))?.status).toBe('timeout')
    expect((await getApproval(db.pool, later.id))?.status).toBe('pending')
    const [event] = await inbox.claim(db.pool, { limit: 5, leaseMs: 1000, claimant: 'x' })
    expect(event).toMatchObject({ lane: 7, kind: inbox.INTERNAL_EVENT, payload: { event: { type: 'approval_expired', approvalId: due.id } } })
  })

  test('a failing follow-up rolls the expiry back', async () => {
    const due = await request(1)
    await new Promise((r) => setTimeout(r, 20))
    await expect(expireDue(db.pool, () => Promise.reject(new Error('boom')))).rejects.toThrow('boom')
    expect((await getApproval(db.pool, due.id))?.status).toBe('pending')
  })
})
