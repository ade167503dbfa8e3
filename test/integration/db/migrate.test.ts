import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { loadMigrations, migrate } from '../../../db/migrate.ts'
import { seedFromEnv, touch } from '../../../db/users.ts'
import { chatSession, clearActiveAgent, currentThread, isCurrentThread, setActiveAgent, startNewThread } from '../../../db/chat-threads.ts'
import { openTestDatabase, quietLog } from '../../support/database.ts'

let db: Awaited<ReturnType<typeof openTestDatabase>>
beforeAll(async () => {
  db = await openTestDatabase()
})
afterAll(() => db.close())

describe('migrations and small repositories', () => {
  test('apply once, concurrently safe, and leave pgvector usable', async () => {
    const results = await Promise.all([migrate(db.pool, quietLog), migrate(db.pool, quietLog), migrate(db.pool, quietLog)])
    const all = (await loadMigrations()).map((m) => m.version)
    expect(all.slice(0, 4)).toEqual(['0001_init', '0002_approvals', '0003_tasks', '0004_memories'])
    expect(results.flat()).toEqual(all) // each applied exactly once, in order, of three racing callers
    expect(await migrate(db.pool, quietLog)).toEqual([])
    const { rows } = await db.pool.query<{ d: number }>(`select '[1,0,0]'::vector <=> '[0,1,0]'::vector as d`)
    expect(rows[0]?.d).toBeCloseTo(1)
  })

  test('a failing migration leaves nothing half-applied', async () => {
    const bad = [{ version: '9998_ok', sql: 'create table t_ok (x int)' }, { version: '9999_bad', sql: 'create table t_bad (' }]
    await expect(migrate(db.pool, quietLog, bad)).rejects.toThrow()
    const { rows } = await db.pool.query(`select to_regclass('t_ok') as t`)
    expect(rows[0]).toEqual({ t: null })
  })

  test('users: env admins get the admin role and lose it when removed from the list', async () => {
    await seedFromEnv(db.pool, [1, 2])
    expect((await touch(db.pool, { id: 1 })).role).toBe('admin')
    await seedFromEnv(db.pool, [2])
    expect((await touch(db.pool, { id: 1, username: 'ann' })).role).toBe('user')
    expect(await touch(db.pool, { id: 3 })).toEqual({ telegramId: 3, role: 'user', allowed: false, denied: false })
  })

  test('chat threads: stable until /new, which returns the previous one', async () => {
    const first = await currentThread(db.pool, { chatId: 77 })
    expect(await currentThread(db.pool, { chatId: 77 })).toBe(first)
    const { previous, current } = await startNewThread(db.pool, { chatId: 77 })
    expect(previous).toBe(first)
    expect(await currentThread(db.pool, { chatId: 77 })).toBe(current)
    expect(current).not.toBe(first)
    expect(await isCurrentThread(db.pool, first)).toBe(false)
    expect(await isCurrentThread(db.pool, current)).toBe(true)
  })

  test('chat threads: each forum topic has its own thread and active agent', async () => {
    const general = await chatSession(db.pool, { chatId: -100 })
    const topic = await chatSession(db.pool, { chatId: -100, topicId: 5 })
    expect(topic.threadId).not.toBe(general.threadId)
    await setActiveAgent(db.pool, { chatId: -100, topicId: 5 }, 'coder')
    expect((await chatSession(db.pool, { chatId: -100, topicId: 5 })).activeAgent).toBe('coder')
    expect((await chatSession(db.pool, { chatId: -100 })).activeAgent).toBeUndefined()
    // /new keeps the chosen agent; deleting the agent sends the topic back to the default.
    await startNewThread(db.pool, { chatId: -100, topicId: 5 })
    expect((await chatSession(db.pool, { chatId: -100, topicId: 5 })).activeAgent).toBe('coder')
    expect(await clearActiveAgent(db.pool, 'coder')).toBe(1)
    expect((await chatSession(db.pool, { chatId: -100, topicId: 5 })).activeAgent).toBeUndefined()
  })
})
