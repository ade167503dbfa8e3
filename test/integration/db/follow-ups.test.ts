import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { createApproval, decide, getApproval } from '../../../db/approvals.ts'
import { continueTask, createTask, finishStep, getTask } from '../../../db/tasks.ts'
import type { TaskRow } from '../../../db/tasks.ts'
import { TEST_DATABASE_URL, openPreparedDatabase } from '../../support/database.ts'

const engines = [{ name: 'embedded PGlite', embedded: true }, ...(TEST_DATABASE_URL ? [{ name: 'native Postgres', embedded: false }] : [])]

describe.each(engines)('a follow-up and the push approval of the change it replaces, on $name', ({ embedded }) => {
  let db: Awaited<ReturnType<typeof openPreparedDatabase>>
  beforeAll(async () => {
    db = await openPreparedDatabase({ embedded })
  })
  afterAll(() => db.close())

  /** A task whose change waits for review, with its push approval. */
  async function waitingChange(source: string): Promise<{ task: TaskRow; approvalId: string }> {
    const task = await createTask(db.pool, { chatId: 1, threadId: 't1', requesterId: 7, agent: 'coder', source, input: { instructions: 'add a thing', files: [] } })
    await db.pool.query(`update tasks set status = 'running', claimed_by = 'me' where id = $1`, [task.id])
    const result = { branch: `mechanic/${task.id}`, baseBranch: 'main', baseSha: 'a'.repeat(40), patch: 'From x', pushTarget: `mechanic/${task.id}` }
    await finishStep(db.pool, { id: task.id, claimant: 'me', status: 'waiting', result })
    const approval = await createApproval(db.pool, { chatId: 1, requesterId: 7, threadId: 't1', interruptId: `task:${task.id}:push`, type: 'push', payload: { tool: 'push', args: {}, description: 'push' }, ttlMs: 60_000, taskId: task.id })
    return { task, approvalId: approval.id }
  }
  const follow = (parentId: string, updateId: number) =>
    continueTask(db.pool, { parentId, chatId: 1, requesterId: 7, source: `followup:1:${updateId}`, instructions: 'and more', allowed: () => true, updateId })

  test('the pending approval is withdrawn in the same transaction, so a press after it finds it decided', async () => {
    const { task, approvalId } = await waitingChange('s1')
    const done = await follow(task.id, 101)
    expect('task' in done && done.withdrawn?.id).toBe(approvalId)
    expect((await getApproval(db.pool, approvalId))?.status).toBe('cancelled')
    expect(await decide(db.pool, { id: approvalId, status: 'approved', by: 7, decision: { type: 'approve' }, updateId: 102 })).toBeUndefined()
    expect(await getTask(db.pool, task.id)).toMatchObject({ status: 'cancelled', error: `superseded:${'task' in done ? done.task.id : ''}` })
  })

  test('a change whose push was approved a moment before is not replaced: the follow-up is refused and nothing is created', async () => {
    const { task, approvalId } = await waitingChange('s2')
    await decide(db.pool, { id: approvalId, status: 'approved', by: 7, decision: { type: 'approve' }, updateId: 201, route: 'push' })
    expect(await follow(task.id, 202)).toEqual({ refused: 'busy' })
    expect((await getTask(db.pool, task.id))?.status).toBe('waiting')
    expect((await db.pool.query(`select 1 from tasks where source = 'followup:1:202'`)).rows).toEqual([])
  })
})
