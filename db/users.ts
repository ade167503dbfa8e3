import type { Pool } from './database.ts'

export type Role = 'owner' | 'admin' | 'user'

export interface UserRecord {
  telegramId: number
  role: Role
  /** Allowed by an admin (/allow), on top of ALLOWED_USER_IDS. */
  allowed: boolean
  /** Shut out by an admin (/deny), even if ALLOWED_USER_IDS lists them. */
  denied: boolean
}

export interface UserListing extends UserRecord {
  username: string | undefined
  firstName: string | undefined
  lastSeenAt: Date | undefined
}

/**
 * Makes the users table agree with the env lists: env admins get the admin role, and admins no longer
 * listed lose it (the env list is the authority for admins; explicit grants live in `allowed`).
 */
export async function seedFromEnv(pool: Pool, adminIds: readonly number[]): Promise<void> {
  await pool.query(
    `insert into users (telegram_id, role) select unnest($1::bigint[]), 'admin'
     on conflict (telegram_id) do update set role = 'admin', updated_at = now() where users.role = 'user'`,
    [adminIds],
  )
  await pool.query(
    `update users set role = 'user', updated_at = now() where role = 'admin' and not (telegram_id = any($1::bigint[]))`,
    [adminIds],
  )
}

/** Records that a person was seen (name, time) and returns what we know of them. */
export async function touch(pool: Pool, user: { id: number; username?: string | undefined; firstName?: string | undefined }): Promise<UserRecord> {
  const { rows } = await pool.query<{ telegramId: string; role: Role; allowed: boolean; denied: boolean }>(
    `insert into users (telegram_id, username, first_name, last_seen_at) values ($1, $2, $3, now())
     on conflict (telegram_id) do update set username = excluded.username, first_name = excluded.first_name, last_seen_at = now()
     returning telegram_id as "telegramId", role, allowed, denied`,
    [user.id, user.username ?? null, user.firstName ?? null],
  )
  const row = rows[0]
  if (!row) throw new Error('upsert into users returned no row')
  return { ...row, telegramId: Number(row.telegramId) }
}

/** /allow and /deny: grants or shuts out a person by id (who need not have written yet). */
export async function setAccess(pool: Pool, telegramId: number, access: 'allow' | 'deny'): Promise<UserRecord> {
  const allow = access === 'allow'
  const { rows } = await pool.query<{ telegramId: string; role: Role; allowed: boolean; denied: boolean }>(
    `insert into users (telegram_id, allowed, denied) values ($1, $2, $3)
     on conflict (telegram_id) do update set allowed = excluded.allowed, denied = excluded.denied, updated_at = now()
     returning telegram_id as "telegramId", role, allowed, denied`,
    [telegramId, allow, !allow],
  )
  const row = rows[0]
  if (!row) throw new Error('upsert into users returned no row')
  return { ...row, telegramId: Number(row.telegramId) }
}

/** Everyone the bot knows, admins first, then by last contact. */
/** What we know of a person, without recording a visit; undefined for someone never seen. */
export async function getUser(pool: Pool, telegramId: number): Promise<UserRecord | undefined> {
  const { rows } = await pool.query<{ telegramId: string; role: Role; allowed: boolean; denied: boolean }>(
    'select telegram_id as "telegramId", role, allowed, denied from users where telegram_id = $1',
    [telegramId],
  )
  const r = rows[0]
  return r && { telegramId: Number(r.telegramId), role: r.role, allowed: r.allowed, denied: r.denied }
}

export async function listUsers(pool: Pool, limit = 50): Promise<UserListing[]> {
  const { rows } = await pool.query<{ telegramId: string; role: Role; allowed: boolean; denied: boolean; username: string | null; firstName: string | null; lastSeenAt: Date | null }>(
    `select telegram_id as "telegramId", role, allowed, denied, username, first_name as "firstName", last_seen_at as "lastSeenAt"
     from users order by role = 'user', last_seen_at desc nulls last limit $1`,
    [limit],
  )
  return rows.map((r) => ({ ...r, telegramId: Number(r.telegramId), username: r.username ?? undefined, firstName: r.firstName ?? undefined, lastSeenAt: r.lastSeenAt ?? undefined }))
}
