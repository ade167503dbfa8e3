import { readdir, readFile } from 'node:fs/promises'
import type { Logger } from '../logger.ts'
import type { Pool } from './database.ts'

const MIGRATIONS_DIR = new URL('./migrations/', import.meta.url)
/** Arbitrary constant: the advisory lock key that serialises migrations across instances. */
const MIGRATION_LOCK_KEY = 0x6d656368 // "mech"

export interface Migration {
  version: string
  sql: string
}

/** Reads the versioned SQL files in `db/migrations`, ordered by name. */
export async function loadMigrations(dir: URL = MIGRATIONS_DIR): Promise<Migration[]> {
  const files = (await readdir(dir)).filter((f) => /^\d{4}_[a-z0-9_]+\.sql$/.test(f)).sort()
  return Promise.all(files.map(async (f) => ({ version: f.replace(/\.sql$/, ''), sql: await readFile(new URL(f, dir), 'utf8') })))
}

/**
 * Applies pending migrations in one transaction under an advisory lock, so instances starting
 * together apply each exactly once. Returns the versions it applied.
 */
export async function migrate(pool: Pool, log: Logger, migrations?: Migration[]): Promise<string[]> {
  const all = migrations ?? (await loadMigrations())
  const client = await pool.connect()
  try {
    await client.query('begin')
    await client.query('select pg_advisory_xact_lock($1)', [MIGRATION_LOCK_KEY])
    await client.query(`create table if not exists schema_migrations (
      version text primary key, applied_at timestamptz not null default now())`)
    const { rows } = await client.query<{ version: string }>('select version from schema_migrations')
    const done = new Set(rows.map((r) => r.version))
    const pending = all.filter((m) => !done.has(m.version))
    for (const m of pending) {
      await client.query(m.sql)
      await client.query('insert into schema_migrations (version) values ($1)', [m.version])
      log.info({ version: m.version }, 'migration applied')
    }
    await client.query('commit')
    return pending.map((m) => m.version)
  } catch (err) {
    await client.query('rollback').catch(() => undefined)
    throw err
  } finally {
    client.release()
  }
}
