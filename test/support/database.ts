import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import { openDatabase } from '../../db/database.ts'
import { prepareSchema } from '../../app.ts'
import type { Database } from '../../db/database.ts'
import { createLogger } from '../../logger.ts'

/** Native Postgres for tests when CI provides one; the embedded database otherwise. */
export const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL || undefined

export const quietLog = createLogger({ level: process.env.TEST_LOG_LEVEL ?? 'silent', secrets: [] })

/** Where a service or test keeps its data: a fresh native database, or a fresh embedded data dir. */
export interface TestDatabaseSpec {
  /** DATABASE_URL for the service; undefined means embedded. */
  url: string | undefined
  dataDir: string
  dispose(): Promise<void>
}

/** A new, empty database (native) or data directory (embedded) for one test. */
export async function createTestDatabase(opts: { embedded?: boolean } = {}): Promise<TestDatabaseSpec> {
  const dataDir = mkdtempSync(join(tmpdir(), 'mechanic-test-'))
  const removeDir = () => rmSync(dataDir, { recursive: true, force: true })
  if (opts.embedded || !TEST_DATABASE_URL) return { url: undefined, dataDir, dispose: async () => removeDir() }
  const name = `mechanic_test_${randomBytes(6).toString('hex')}`
  const admin = new pg.Client({ connectionString: TEST_DATABASE_URL })
  await admin.connect()
  await admin.query(`create database ${name}`)
  await admin.end()
  const url = new URL(TEST_DATABASE_URL)
  url.pathname = `/${name}`
  return {
    url: url.toString(),
    dataDir,
    async dispose() {
      removeDir()
      const c = new pg.Client({ connectionString: TEST_DATABASE_URL })
      await c.connect()
      await c.query(`drop database if exists ${name} with (force)`)
      await c.end()
    },
  }
}

/** Opens a fresh test database through the product's own code path. */
export async function openTestDatabase(opts: { embedded?: boolean } = {}): Promise<Database & { spec: TestDatabaseSpec }> {
  const spec = await createTestDatabase(opts)
  const db = await openDatabase({ url: spec.url, dataDir: spec.dataDir, log: quietLog })
  return {
    ...db,
    spec,
    async close() {
      await db.close()
      await spec.dispose()
    },
  }
}

/** A fresh test database prepared as a start leaves it (the product's own prepareSchema). */
export async function openPreparedDatabase(opts: { embedded?: boolean; embeddingDim?: number } = {}): Promise<Awaited<ReturnType<typeof openTestDatabase>>> {
  const db = await openTestDatabase(opts)
  await prepareSchema(db, quietLog, opts.embeddingDim ?? 256)
  return db
}
