import { randomBytes } from 'node:crypto'
import { inTransaction } from './database.ts'
import type { Pool } from './database.ts'
import { enqueueEvent } from './inbox.ts'

export type ScheduleKind = 'reminder' | 'job'

export interface ScheduleRow {
  id: string
  chatId: number
  topicId: number | null
  ownerId: number
  ownerName: string
  kind: ScheduleKind
  body: string
  agent: string | null
  timeZone: string
  recurrence: unknown
  nextRunAt: Date | null
  paused: boolean
  createdAt: Date
  firedCount: number
  lastDueAt: Date | null
  lastSentAt: Date | null
  lastMessageId: number | null
  lastOutcome: 'sent' | 'failed' | null
  lastError: string | null
}

const columns = `id, chat_id as "chatId", topic_id as "topicId", owner_id as "ownerId", owner_name as "ownerName", kind, body, agent,
  time_zone as "timeZone", recurrence, next_run_at as "nextRunAt", paused, created_at as "createdAt", fired_count as "firedCount",
  last_due_at as "lastDueAt", last_sent_at as "lastSentAt", last_message_id as "lastMessageId", last_outcome as "lastOutcome", last_error as "lastError"`

type Raw = Omit<ScheduleRow, 'chatId' | 'topicId' | 'ownerId' | 'lastMessageId'> & { chatId: string; topicId: string | null; ownerId: string; lastMessageId: string | null }
const toRow = (r: Raw): ScheduleRow => ({
  ...r,
  chatId: Number(r.chatId),
  topicId: r.topicId === null ? null : Number(r.topicId),
  ownerId: Number(r.ownerId),
  lastMessageId: r.lastMessageId === null ? null : Number(r.lastMessageId),
})

export const newScheduleId = () => randomBytes(9).toString('base64url')

export async function createSchedule(
  pool: Pool,
  s: Pick<ScheduleRow, 'chatId' | 'topicId' | 'ownerId' | 'ownerName' | 'kind' | 'body' | 'agent' | 'timeZone' | 'recurrence'> & { nextRunAt: Date },
): Promise<ScheduleRow> {
  const { rows } = await pool.query<Raw>(
    `insert into schedules (id, chat_id, topic_id, owner_id, owner_name, kind, body, agent, time_zone, recurrence, next_run_at)
     values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) returning ${columns}`,
    [newScheduleId(), s.chatId, s.topicId, s.ownerId, s.ownerName, s.kind, s.body, s.agent, s.timeZone, JSON.stringify(s.recurrence), s.nextRunAt],
  )
  return toRow(rows[0]!)
}

export async function getSchedule(pool: Pool, id: string): Promise<ScheduleRow | undefined> {
  const { rows } = await pool.query<Raw>(`select ${columns} from schedules where id = $1`, [id])
  return rows[0] && toRow(rows[0])
}

/** A chat's schedules (or everyone's), the next to fire first, finished one-offs last. */
export async function listSchedules(pool: Pool, where: { chatId?: number | undefined; ownerId?: number | undefined }, limit = 50): Promise<ScheduleRow[]> {
  const { rows } = await pool.query<Raw>(
    `select ${columns} from schedules where ($1::bigint is null or chat_id = $1) and ($2::bigint is null or owner_id = $2)
     order by next_run_at nulls last, created_at limit $3`,
    [where.chatId ?? null, where.ownerId ?? null, limit],
  )
  return rows.map(toRow)
}

/** Schedules that will still fire, of one person (for the cap). */
export async function countActive(pool: Pool, ownerId: number): Promise<number> {
  const { rows } = await pool.query<{ n: string }>('select count(*) as n from schedules where owner_id = $1 and next_run_at is not null', [ownerId])
  return Number(rows[0]?.n ?? 0)
}

export async function setPaused(pool: Pool, id: string, paused: boolean, nextRunAt: Date | null): Promise<ScheduleRow | undefined> {
  const { rows } = await pool.query<Raw>(`update schedules set paused = $2, next_run_at = coalesce($3, next_run_at) where id = $1 returning ${columns}`, [id, paused, nextRunAt])
  return rows[0] && toRow(rows[0])
}

export async function deleteSchedule(pool: Pool, id: string): Promise<boolean> {
  const { rowCount } = await pool.query('delete from schedules where id = $1', [id])
  return rowCount === 1
}

/** What a firing did: the message it sent (the proof of delivery), or why it failed. */
export async function recordFiring(pool: Pool, id: string, f: { dueAt: Date; messageId: number } | { dueAt: Date; error: string }): Promise<void> {
  if ('messageId' in f) {
    await pool.query(`update schedules set last_due_at = $2, last_sent_at = now(), last_message_id = $3, last_outcome = 'sent', last_error = null where id = $1`, [id, f.dueAt, f.messageId])
  } else {
    await pool.query(`update schedules set last_due_at = $2, last_outcome = 'failed', last_error = $3 where id = $1`, [id, f.dueAt, f.error.slice(0, 500)])
  }
}

const SCHEDULE_LOCK_KEY = 0x73636865 // "sche"

/**
 * Moves due schedules into their chats' inbox lanes, on one instance at a time (a transaction-level
 * advisory lock): each becomes one internal event, and its next_run_at advances (through `next`) in
 * the same transaction, so a firing is queued exactly once however many instances run and restarts
 * happen. `next` gets the schedule and now, and returns its next time after now (a recurring one
 * that missed several slots fires once and resumes its rhythm), or null for a one-off.
 */
export async function fireDue(pool: Pool, eventType: string, next: (row: ScheduleRow, now: Date) => Date | null, limit = 100): Promise<Array<{ row: ScheduleRow; dueAt: Date }>> {
  // Most ticks find nothing due: one indexed read then, not a transaction and a lock every second.
  const { rows: due } = await pool.query('select 1 from schedules where not paused and next_run_at <= now() limit 1')
  if (due.length === 0) return []
  return inTransaction(pool, async (client) => {
    const { rows: lock } = await client.query<{ ok: boolean }>('select pg_try_advisory_xact_lock($1) as ok', [SCHEDULE_LOCK_KEY])
    if (!lock[0]?.ok) return []
    const { rows } = await client.query<Raw & { now: Date }>(
      `select ${columns}, now() as now from schedules where not paused and next_run_at <= now() order by next_run_at limit $1 for update`,
      [limit],
    )
    const fired: Array<{ row: ScheduleRow; dueAt: Date }> = []
    for (const raw of rows) {
      const row = toRow(raw)
      const dueAt = row.nextRunAt!
      await enqueueEvent(client, row.chatId, { type: eventType, scheduleId: row.id, dueAt: dueAt.toISOString() })
      await client.query('update schedules set next_run_at = $2, fired_count = fired_count + 1 where id = $1', [row.id, next(row, raw.now)])
      fired.push({ row, dueAt })
    }
    return fired
  })
}

/** Figures for /status: schedules that will fire, and the next firing. */
export async function scheduleFigures(pool: Pool): Promise<{ active: number; paused: number; failing: number; next: Date | null }> {
  const { rows } = await pool.query<{ active: string; paused: string; failing: string; next: Date | null }>(
    `select count(*) filter (where next_run_at is not null and not paused) as active, count(*) filter (where paused) as paused,
            count(*) filter (where last_outcome = 'failed') as failing, min(next_run_at) filter (where not paused) as next from schedules`,
  )
  const r = rows[0]
  return { active: Number(r?.active ?? 0), paused: Number(r?.paused ?? 0), failing: Number(r?.failing ?? 0), next: r?.next ?? null }
}

export async function getTimeZone(pool: Pool, userId: number): Promise<string | undefined> {
  const { rows } = await pool.query<{ zone: string | null }>('select time_zone as zone from users where telegram_id = $1', [userId])
  return rows[0]?.zone ?? undefined
}

export async function setTimeZone(pool: Pool, userId: number, zone: string): Promise<void> {
  await pool.query(`insert into users (telegram_id, time_zone) values ($1, $2) on conflict (telegram_id) do update set time_zone = $2, updated_at = now()`, [userId, zone])
}

/** The first name the bot knows for a person. */
export async function nameOf(pool: Pool, userId: number): Promise<string | undefined> {
  const { rows } = await pool.query<{ name: string | null }>('select first_name as name from users where telegram_id = $1', [userId])
  return rows[0]?.name ?? undefined
}
