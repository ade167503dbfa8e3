import type { Pool } from './database.ts'

export type InboxStatus = 'queued' | 'running' | 'done' | 'failed'

/** One stored update, as the dispatcher sees it. */
export interface InboxRow {
  updateId: number
  lane: number
  kind: string
  payload: unknown
  attempts: number
  /** Since it was stored, when it was claimed (the inbox's lag, on a first attempt). */
  waitedMs: number
}

const rowColumns = 'update_id as "updateId", lane, kind, payload, attempts'

interface RawRow {
  updateId: string
  lane: string
  kind: string
  payload: unknown
  attempts: number
  waitedMs?: number | string
}
const toRow = (r: RawRow): InboxRow => ({ ...r, updateId: Number(r.updateId), lane: Number(r.lane), waitedMs: Number(r.waitedMs ?? 0) })

/** An update as the inbox stores it. */
export interface NewUpdate {
  updateId: number
  lane: number
  kind: string
  payload: unknown
}

/** Stores an update; a repeat delivery of the same update_id changes nothing. Returns whether it was new. */
export async function enqueue(pool: Pick<Pool, 'query'>, update: NewUpdate): Promise<boolean> {
  return (await enqueueMany(pool, [update])).has(update.updateId)
}

/**
 * Stores many updates in one statement (one commit: the ingest's group commit); repeats change
 * nothing. Returns the ids that were new.
 */
export async function enqueueMany(pool: Pick<Pool, 'query'>, updates: readonly NewUpdate[]): Promise<Set<number>> {
  if (updates.length === 0) return new Set()
  const { rows } = await pool.query<{ updateId: string }>(
    `insert into inbox (update_id, lane, kind, payload)
     select * from unnest($1::bigint[], $2::bigint[], $3::text[], $4::jsonb[])
     on conflict (update_id) do nothing
     returning update_id as "updateId"`,
    [updates.map((u) => u.updateId), updates.map((u) => u.lane), updates.map((u) => u.kind), updates.map((u) => jsonbText(u.payload))],
  )
  return new Set(rows.map((r) => Number(r.updateId)))
}

/** The kinds of the updates that `fresh` (what enqueueMany returned) says were new: what is counted as received. */
export const newKinds = (updates: readonly NewUpdate[], fresh: ReadonlySet<number>) => updates.filter((u) => fresh.has(u.updateId)).map((u) => u.kind)

/**
 * JSON that Postgres' jsonb accepts: it refuses the escaped NUL character (\u0000) that JSON allows
 * and a message may carry; it becomes U+FFFD. An escaped backslash before "u0000" is left alone.
 */
export function jsonbText(value: unknown): string {
  return JSON.stringify(value).replace(/(?<!\\)((?:\\\\)*)\\u0000/g, '$1\\ufffd')
}

/** Kind of the inbox rows that Mechanic writes itself (as opposed to Telegram updates). */
export const INTERNAL_EVENT = 'mechanic_event'

/** Internal event ids start here: negative (Telegram's are not), increasing, and exact in a JS number. */
const INTERNAL_ID_BASE = -(2 ** 52)

/**
 * Queues an event of our own into a chat's lane. It gets a negative update_id, which Telegram never
 * uses, so it runs next in its lane once the update running there (if any) is done. Pass a client
 * to make it part of a transaction.
 */
export async function enqueueEvent(db: Pick<Pool, 'query'>, lane: number, event: Record<string, unknown>): Promise<number> {
  const { rows } = await db.query<{ updateId: string }>(
    `insert into inbox (update_id, lane, kind, payload)
     select $4::bigint + nextval('internal_update_id'), $1, $2, jsonb_build_object('event', $3::jsonb)
     returning update_id as "updateId"`,
    [lane, INTERNAL_EVENT, JSON.stringify(event), INTERNAL_ID_BASE],
  )
  return Number(rows[0]?.updateId)
}

/**
 * Claims up to `limit` updates that may run now: each is the oldest unfinished update of its lane,
 * either queued and due, or running under a claim that is no longer held (`claim_held`, migration
 * 0006: its lease ran out, or its process is provably dead). Lanes therefore run one update at a time
 * in update_id order, across any number of processes.
 *
 * The query is shaped so that no planner statistics can make it slow: the lane heads (one
 * DISTINCT ON pass over the pending index), the live lock keys and the busy lanes are each
 * materialized once, and only heads are joined. The earlier form asked two correlated NOT EXISTS
 * per pending row; planned on an empty inbox it took seconds per call at a few thousand queued
 * (see docs/decisions.md, "A claim that cannot collapse").
 */
export async function claim(pool: Pool, opts: { limit: number; leaseMs: number; claimant: string; maxAttempts?: number }): Promise<InboxRow[]> {
  const { rows } = await pool.query<RawRow>(
    `with live as materialized (select live_lock_keys() as keys),
     heads as materialized (
       select distinct on (lane) lane, update_id from inbox
       where status in ('queued', 'running')
       order by lane, update_id),
     -- a lane whose update runs under a held claim waits (an internal event sorts first in its lane,
     -- yet waits for the update running there)
     busy as materialized (
       select distinct r.lane from inbox r, live
       where r.status = 'running' and claim_held(r.lease_until, r.claimed_by, live.keys)),
     candidate as (
       select i.update_id from heads h
       join inbox i on i.update_id = h.update_id
       cross join live
       where not exists (select 1 from busy b where b.lane = h.lane)
         and ((i.status = 'queued' and i.available_at <= now())
              -- a dead claim on its last attempt is not taken over: the sweep fails it (failExhausted)
              or (i.status = 'running' and i.attempts < $4 and not claim_held(i.lease_until, i.claimed_by, live.keys)))
       order by i.update_id
       limit $1
       for update of i skip locked)
     update inbox set status = 'running', attempts = inbox.attempts + 1, claimed_by = $3,
       lease_until = now() + make_interval(secs => $2::double precision / 1000), started_at = now(), error = null
     from candidate where inbox.update_id = candidate.update_id
     returning inbox.update_id as "updateId", lane, kind, payload, attempts,
       extract(epoch from now() - inbox.received_at) * 1000 as "waitedMs"`,
    [opts.limit, opts.leaseMs, opts.claimant, opts.maxAttempts ?? 2 ** 31 - 1],
  )
  return rows.map(toRow).sort((a, b) => a.updateId - b.updateId)
}

/** Extends the lease of a running update; false when the claim was lost to another process. */
export async function renewLease(pool: Pool, updateId: number, claimant: string, leaseMs: number): Promise<boolean> {
  const { rowCount } = await pool.query(
    `update inbox set lease_until = now() + make_interval(secs => $3::double precision / 1000)
     where update_id = $1 and claimed_by = $2 and status = 'running'`,
    [updateId, claimant, leaseMs],
  )
  return rowCount === 1
}

/** Marks a claimed update done; false when the claim was lost (another process owns it now). */
export async function complete(pool: Pool, updateId: number, claimant: string): Promise<boolean> {
  const { rowCount } = await pool.query(
    `update inbox set status = 'done', finished_at = now(), lease_until = null
     where update_id = $1 and claimed_by = $2 and status = 'running'`,
    [updateId, claimant],
  )
  return rowCount === 1
}

/**
 * Records a failed attempt: the update is queued again after `retryInMs`, or marked failed once it
 * has had `maxAttempts`. Returns the resulting status, or undefined when the claim was lost.
 */
export async function recordFailure(
  pool: Pool,
  updateId: number,
  claimant: string,
  opts: { error: string; retryInMs: number; maxAttempts: number },
): Promise<InboxStatus | undefined> {
  const { rows } = await pool.query<{ status: InboxStatus }>(
    `update inbox set
       status = case when attempts >= $4 then 'failed' else 'queued' end,
       finished_at = case when attempts >= $4 then now() end,
       available_at = now() + make_interval(secs => $5::double precision / 1000),
       lease_until = null, error = left($3, 2000)
     where update_id = $1 and claimed_by = $2 and status = 'running'
     returning status`,
    [updateId, claimant, opts.error, opts.maxAttempts, opts.retryInMs],
  )
  return rows[0]?.status
}

/** Marks failed the running updates no longer held (see `claim`) after their last allowed attempt, and returns them. */
export async function failExhausted(pool: Pool, maxAttempts: number): Promise<InboxRow[]> {
  const { rows } = await pool.query<RawRow>(
    `update inbox set status = 'failed', finished_at = now(), lease_until = null,
       error = coalesce(error, 'the process handling it stopped (its claim was no longer held)')
     where status = 'running' and not claim_held(lease_until, claimed_by, (select live_lock_keys())) and attempts >= $1
     returning ${rowColumns}`,
    [maxAttempts],
  )
  return rows.map(toRow)
}

/** Hands back this process's running updates at shutdown; the interrupted attempt does not count. */
export async function releaseClaims(pool: Pool, claimant: string): Promise<number> {
  const { rowCount } = await pool.query(
    `update inbox set status = 'queued', attempts = greatest(attempts - 1, 0), lease_until = null, claimed_by = null
     where claimed_by = $1 and status = 'running'`,
    [claimant],
  )
  return rowCount ?? 0
}

export interface InboxStats {
  depth: number
  running: number
  oldestQueuedSeconds: number | null
  failedLastDay: number
}

export async function stats(pool: Pool): Promise<InboxStats> {
  const { rows } = await pool.query<{ depth: string; running: string; oldest: number | null; failed: string }>(
    `select
       count(*) filter (where status in ('queued', 'running')) as depth,
       count(*) filter (where status = 'running') as running,
       extract(epoch from now() - min(received_at) filter (where status = 'queued'))::float8 as oldest,
       count(*) filter (where status = 'failed' and finished_at > now() - interval '1 day') as failed
     from inbox where status <> 'done' or finished_at > now() - interval '1 day'`,
  )
  const r = rows[0]
  return {
    depth: Number(r?.depth ?? 0),
    running: Number(r?.running ?? 0),
    oldestQueuedSeconds: r?.oldest ?? null,
    failedLastDay: Number(r?.failed ?? 0),
  }
}

/** Deletes finished updates older than `days`; they only guard against duplicate deliveries by then. */
export async function prune(pool: Pool, days: number): Promise<number> {
  const { rowCount } = await pool.query(
    `delete from inbox where status in ('done', 'failed') and finished_at < now() - make_interval(days => $1)`,
    [days],
  )
  return rowCount ?? 0
}

/** A chat whose oldest waiting update has waited long, told once per backlog (see `lanesBehind`). */
export interface LaneBehind {
  lane: number
  /** The forum topic of the waiting message, when it has one. */
  topicId: number | undefined
}

/**
 * Finds the lanes whose oldest waiting update (a person's, first attempt) has waited more than
 * `afterSeconds` and that were not told yet in this backlog, and records them as told. A lane's
 * record goes once nothing of it waits or runs, in the same statement.
 */
export async function lanesBehind(pool: Pool, afterSeconds: number): Promise<LaneBehind[]> {
  const { rows } = await pool.query<{ lane: string; topicId: string | null }>(
    `with cleared as (
       delete from inbox_backlog_notes n
       where not exists (select 1 from inbox i where i.lane = n.lane and i.status in ('queued', 'running'))),
     waiting as materialized (
       select distinct on (lane) lane, update_id from inbox
       where status = 'queued'
       order by lane, update_id),
     late as (
       select i.lane, i.payload -> 'message' ->> 'message_thread_id' as "topicId"
       from waiting w join inbox i on i.update_id = w.update_id
       where i.update_id >= 0 and i.lane <> 0 and i.attempts = 0
         and i.received_at < now() - make_interval(secs => $1::double precision)),
     noted as (
       insert into inbox_backlog_notes (lane) select lane from late
       on conflict (lane) do nothing
       returning lane)
     select late.lane, late."topicId" from late join noted using (lane)`,
    [afterSeconds],
  )
  return rows.map((r) => ({ lane: Number(r.lane), topicId: r.topicId === null ? undefined : Number(r.topicId) }))
}

/** One message of an album (a media group) as stored in the inbox. */
export interface AlbumMember {
  updateId: number
  status: InboxStatus
  payload: unknown
  /** Since the update was stored. */
  ageMs: number
}

/**
 * The messages of album `groupId` in a lane from update `fromUpdateId` on, oldest first. Telegram
 * sends an album as one update per item, close together; they share `media_group_id`.
 */
export async function albumMembers(pool: Pool, lane: number, groupId: string, fromUpdateId: number): Promise<AlbumMember[]> {
  const { rows } = await pool.query<{ updateId: string; status: InboxStatus; payload: unknown; ageMs: string }>(
    `select update_id as "updateId", status, payload, extract(epoch from (now() - received_at)) * 1000 as "ageMs"
     from inbox where update_id >= $3 and lane = $1 and payload -> 'message' ->> 'media_group_id' = $2
     order by update_id limit 20`,
    [lane, groupId, fromUpdateId],
  )
  return rows.map((r) => ({ updateId: Number(r.updateId), status: r.status, payload: r.payload, ageMs: Number(r.ageMs) }))
}

/** Marks queued updates done without running them: the album's first update answered them with it. */
export async function absorb(pool: Pool, updateIds: readonly number[]): Promise<void> {
  if (updateIds.length === 0) return
  await pool.query(`update inbox set status = 'done', finished_at = now() where update_id = any($1) and status = 'queued'`, [updateIds])
}
