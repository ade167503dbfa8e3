import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import pg from 'pg'
import type { Logger } from '../logger.ts'
import { acquireDirLock } from './dir-lock.ts'

export type Pool = pg.Pool

/** Runs `work` in one transaction on one client (the embedded database has exactly one). */
export async function inTransaction<T>(pool: Pool, work: (client: Pick<Pool, 'query'>) => Promise<T>): Promise<T> {
  const client = await pool.connect()
  try {
    await client.query('begin')
    const out = await work(client)
    await client.query('commit')
    return out
  } catch (err) {
    await client.query('rollback').catch(() => undefined)
    throw err
  } finally {
    client.release()
  }
}

/** An open database: a `pg` pool, whichever engine is behind it. */
export interface Database {
  pool: Pool
  kind: 'postgres' | 'embedded'
  /** SQL statements sent since the database was opened (every client of the pool, transactions included). */
  statements: () => number
  close(): Promise<void>
}

/** Counts every statement the pool's clients send: a client's query is where pool.query ends up too. */
function countStatements(pool: Pool): () => number {
  let sent = 0
  pool.on('connect', (client) => {
    const query = client.query.bind(client) as (...args: unknown[]) => unknown
    ;(client as { query: unknown }).query = (...args: unknown[]) => {
      sent++
      return query(...args)
    }
  })
  return () => sent
}

export interface DatabaseOptions {
  url: string | undefined
  dataDir: string
  log: Logger
}

/** Opens `url` with a `pg` pool, or, when unset, the embedded PGlite database in `dataDir`. */
export async function openDatabase({ url, dataDir, log }: DatabaseOptions): Promise<Database> {
  if (url) {
    const pool = new pg.Pool({ connectionString: url, max: 10, connectionTimeoutMillis: 5000, idleTimeoutMillis: 30_000 })
    // An idle client losing its connection (database restart, network) must not crash the process.
    pool.on('error', (err) => log.warn({ err }, 'idle database connection failed'))
    return { pool, kind: 'postgres', statements: countStatements(pool), close: () => pool.end() }
  }
  return openEmbedded(dataDir, log)
}

async function openEmbedded(dataDir: string, log: Logger): Promise<Database> {
  mkdirSync(dataDir, { recursive: true })
  const lock = acquireDirLock(join(dataDir, 'mechanic.lock'))
  try {
    const [{ PGlite }, { vector }, { createPgConfig }] = await Promise.all([
      import('@electric-sql/pglite'),
      import('@electric-sql/pglite-pgvector'),
      import('@electric-sql/pglite/node-postgres'),
    ])
    const started = Date.now()
    const db = await PGlite.create(join(dataDir, 'pglite'), { extensions: { vector } })
    log.info({ dataDir, ms: Date.now() - started }, 'embedded database open')
    // PGlite is one session: a pool of exactly one client that is never closed for idleness,
    // so queries of different callers queue instead of interleaving on the wire.
    const pool = new pg.Pool({ ...createPgConfig(db), max: 1, idleTimeoutMillis: 0 })
    return {
      pool,
      kind: 'embedded',
      statements: countStatements(pool),
      async close() {
        await pool.end()
        await db.close()
        lock.release()
      },
    }
  } catch (err) {
    lock.release()
    throw err
  }
}
