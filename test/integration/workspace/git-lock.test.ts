import { spawn } from 'node:child_process'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { openDatabase } from '../../../db/database.ts'
import { GitLock } from '../../../workspace/git-lock.ts'
import { TEST_DATABASE_URL, openTestDatabase, quietLog } from '../../support/database.ts'
import { sleep, waitUntil } from '../../support/http.ts'

let db: Awaited<ReturnType<typeof openTestDatabase>>
beforeAll(async () => {
  db = await openTestDatabase()
})
afterAll(() => db.close())

describe('GitLock', () => {
  test('tasks of one process take the repository one after the other, the waiter told once', async () => {
    const lock = new GitLock(db, 20)
    const order: string[] = []
    let waits = 0
    const first = await lock.acquire('repo')
    const second = lock.acquire('repo', { onWait: () => waits++ }).then(async (held) => {
      order.push('second')
      await held.release()
    })
    await sleep(100)
    order.push('first')
    await first.release()
    await second
    expect(order).toEqual(['first', 'second'])
    expect(waits).toBe(1)
    const other = await lock.acquire('another-repo') // other repositories are independent
    await other.release()
  })

  test.skipIf(!TEST_DATABASE_URL)('excludes another instance, and is freed when its holder dies (native Postgres)', async () => {
    const otherInstance = await openDatabase({ url: db.spec.url, dataDir: db.spec.dataDir, log: quietLog })
    try {
      const held = await new GitLock(db, 20).acquire('shared')
      let waited = false
      const theirs = new GitLock(otherInstance, 20).acquire('shared', { onWait: () => (waited = true) })
      await sleep(200)
      expect(waited).toBe(true)
      await held.release()
      await (await theirs).release()

      // A process that holds the lock and is killed with SIGKILL leaves it free.
      const script = `import pg from 'pg'; const c = new pg.Client(${JSON.stringify(db.spec.url)}); await c.connect();
        await c.query("select pg_advisory_lock(hashtextextended('git:dies', 0))"); console.log('locked'); setInterval(() => {}, 1000)`
      const child = spawn(process.execPath, ['--input-type=module', '-e', script], { cwd: process.cwd(), stdio: ['ignore', 'pipe', 'inherit'] })
      await waitUntil(() => new Promise<boolean>((r) => child.stdout.once('data', () => r(true))), 'the child to lock')
      let blocked = false
      const mine = new GitLock(db, 20).acquire('dies', { onWait: () => (blocked = true) })
      await sleep(200)
      expect(blocked).toBe(true)
      child.kill('SIGKILL')
      await (await mine).release()
    } finally {
      await otherInstance.close()
    }
  })
})
