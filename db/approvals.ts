import { randomBytes } from 'node:crypto'
import { inTransaction } from './database.ts'
import type { ApprovalKind, ApprovalStatus } from '../domain/approvals.ts'
import type { Pool } from './database.ts'

/** What the approval is about, as shown to the person. */
export interface ApprovalPayload {
  tool: string
  args: Record<string, unknown>
  description: string
  /** The argument an Edit replaces with the person's reply; no Edit button without it. */
  editableArg?: string | undefined
  /** Shown as "Asked by". */
  requesterName?: string | undefined
  /** False when the tool must ask every time (an MCP server's `alwaysAsk`): no "Allow for this conversation". */
  conversationAllowance?: boolean | undefined
}

export interface ApprovalRow {
  id: string
  chatId: number
  messageId: number | null
  requesterId: number
  threadId: string
  interruptId: string
  type: ApprovalKind
  payload: ApprovalPayload
  status: ApprovalStatus
  createdAt: Date
  expiresAt: Date
  resolvedAt: Date | null
  resolvedBy: number | null
  decision: unknown
  decidedByUpdate: number | null
  resumedAt: Date | null
  editPromptId: number | null
  /** Set for a task's push approval, which a task step carries out instead of a thread resume. */
  taskId: string | null
  /** Approved for the whole conversation: the tool is not asked about again in this thread. */
  allowInThread: boolean
  /** A task's approval: which way the change goes, pushed or as a pull request. */
  route: 'push' | 'pr' | null
}

const columns = `id, chat_id as "chatId", message_id as "messageId", requester_id as "requesterId",
  thread_id as "threadId", interrupt_id as "interruptId", type, payload, status, created_at as "createdAt",
  expires_at as "expiresAt", resolved_at as "resolvedAt", resolved_by as "resolvedBy", decision,
  decided_by_update as "decidedByUpdate", resumed_at as "resumedAt", edit_prompt_id as "editPromptId", task_id as "taskId",
  allow_in_thread as "allowInThread", route`

type Raw = Omit<ApprovalRow, 'chatId' | 'messageId' | 'requesterId' | 'resolvedBy' | 'decidedByUpdate' | 'editPromptId'> & {
  chatId: string
  messageId: string | null
  requesterId: string
  resolvedBy: string | null
  decidedByUpdate: string | null
  editPromptId: string | null
}

const num = (v: string | null) => (v === null ? null : Number(v))
const toRow = (r: Raw): ApprovalRow => ({
  ...r,
  chatId: Number(r.chatId),
  requesterId: Number(r.requesterId),
  messageId: num(r.messageId),
  resolvedBy: num(r.resolvedBy),
  decidedByUpdate: num(r.decidedByUpdate),
  editPromptId: num(r.editPromptId),
})

async function one(pool: Pick<Pool, 'query'>, sql: string, params: unknown[]): Promise<ApprovalRow | undefined> {
  const { rows } = await pool.query<Raw>(sql, params)
  return rows[0] && toRow(rows[0])
}

/** A short random id for callback data (12 url-safe characters). */
export const newApprovalId = () => randomBytes(9).toString('base64url')

/**
 * Records the approval an interrupt asks for. Idempotent per interrupt: a retried handler gets the
 * row it created before.
 */
export async function createApproval(
  pool: Pool,
  a: { chatId: number; requesterId: number; threadId: string; interruptId: string; type: ApprovalKind; payload: ApprovalPayload; ttlMs: number; taskId?: string },
): Promise<ApprovalRow> {
  const row = await one(
    pool,
    `insert into approval_requests (id, chat_id, requester_id, thread_id, interrupt_id, type, payload, expires_at, task_id)
     values ($1, $2, $3, $4, $5, $6, $7, now() + make_interval(secs => $8::double precision / 1000), $9)
     on conflict (interrupt_id) do update set interrupt_id = excluded.interrupt_id
     returning ${columns}`,
    [newApprovalId(), a.chatId, a.requesterId, a.threadId, a.interruptId, a.type, JSON.stringify(a.payload), a.ttlMs, a.taskId ?? null],
  )
  if (!row) throw new Error('insert into approval_requests returned no row')
  return row
}

export const getApproval = (pool: Pool, id: string) => one(pool, `select ${columns} from approval_requests where id = $1`, [id])

export const findByInterrupt = (pool: Pool, interruptId: string) =>
  one(pool, `select ${columns} from approval_requests where interrupt_id = $1`, [interruptId])

export const findByEditPrompt = (pool: Pool, chatId: number, promptId: number) =>
  one(pool, `select ${columns} from approval_requests where chat_id = $1 and edit_prompt_id = $2`, [chatId, promptId])

export async function setMessageId(pool: Pool, id: string, messageId: number): Promise<void> {
  await pool.query('update approval_requests set message_id = $2 where id = $1', [id, messageId])
}

export async function setEditPrompt(pool: Pool, id: string, promptId: number): Promise<void> {
  await pool.query('update approval_requests set edit_prompt_id = $2 where id = $1', [id, promptId])
}

export async function markResumed(pool: Pool, id: string): Promise<void> {
  await pool.query('update approval_requests set resumed_at = now() where id = $1 and resumed_at is null', [id])
}

/**
 * Decides a pending, unexpired request. Exactly one concurrent caller wins (the row update is the
 * arbiter); the others get undefined and should re-read the row to say why. `allowInThread` also
 * records, in the same statement, that its tool runs without asking in its thread from now on.
 */
export const decide = (
  pool: Pool,
  d: { id: string; status: Exclude<ApprovalStatus, 'pending' | 'timeout'>; by: number; decision: unknown; updateId: number; allowInThread?: boolean | undefined; route?: 'push' | 'pr' | undefined },
) =>
  one(
    pool,
    `with decided as (
       update approval_requests set status = $2, resolved_by = $3, decision = $4, decided_by_update = $5, resolved_at = now(), allow_in_thread = $6, route = $7
       where id = $1 and status = 'pending' and expires_at > now()
       returning ${columns}
     ), allowed as (
       insert into tool_allowances (thread_id, tool, granted_by, chat_id, approval_id)
       select "threadId", payload ->> 'tool', $3, "chatId", id from decided where $6
       on conflict (thread_id, tool) do nothing
     )
     select * from decided`,
    [d.id, d.status, d.by, JSON.stringify(d.decision), d.updateId, d.allowInThread === true, d.route ?? null],
  )

/** Pending requests, oldest first (for /approvals). */
export async function listPending(pool: Pool, limit = 20): Promise<ApprovalRow[]> {
  const { rows } = await pool.query<Raw>(
    `select ${columns} from approval_requests where status = 'pending' and expires_at > now() order by created_at limit $1`,
    [limit],
  )
  return rows.map(toRow)
}

/** How many requests wait for a decision (for /status). */
export async function countPending(pool: Pool): Promise<number> {
  const { rows } = await pool.query<{ n: string }>(`select count(*) as n from approval_requests where status = 'pending' and expires_at > now()`)
  return Number(rows[0]?.n ?? 0)
}

/** The chat's pending request, if any (one thread per chat, one interrupt per thread). */
export const pendingForChat = (pool: Pool, chatId: number) =>
  one(pool, `select ${columns} from approval_requests where chat_id = $1 and status = 'pending' order by created_at desc limit 1`, [chatId])

/**
 * Marks due requests `timeout` and calls `after` for each inside the same transaction (to queue the
 * event that resumes its thread), so a request is never expired without its follow-up or twice.
 * Runs on one instance at a time: a transaction-level advisory lock elects the runner.
 */
export async function expireDue(pool: Pool, after: (client: Pick<Pool, 'query'>, row: ApprovalRow) => Promise<void>): Promise<ApprovalRow[]> {
  return inTransaction(pool, async (client) => {
    const { rows: lock } = await client.query<{ ok: boolean }>('select pg_try_advisory_xact_lock($1) as ok', [EXPIRY_LOCK_KEY])
    if (!lock[0]?.ok) return []
    const { rows } = await client.query<Raw>(
      `update approval_requests set status = 'timeout', resolved_at = now(),
         decision = '{"type":"reject","message":"The request expired without a decision."}'
       where status = 'pending' and expires_at <= now()
       returning ${columns}`,
    )
    const expired = rows.map(toRow)
    for (const row of expired) await after(client, row)
    return expired
  })
}

const EXPIRY_LOCK_KEY = 0x61707072 // "appr"

/**
 * Withdraws a task's push approval inside the caller's transaction (a follow-up replaces the change):
 * the pending one becomes `cancelled`, so a press at the same moment loses. Returns the withdrawn row;
 * 'decided' when the latest was already approved (its push or pull request is on its way), so the
 * caller can refuse instead of replacing a change that is being pushed.
 */
export async function withdrawTaskApproval(
  db: Pick<Pool, 'query'>,
  w: { taskId: string; by: number; updateId: number; reason: string },
): Promise<ApprovalRow | 'decided' | undefined> {
  const latest = await one(db, `select ${columns} from approval_requests where task_id = $1 order by created_at desc limit 1 for update`, [w.taskId])
  if (!latest) return undefined
  if (latest.status === 'approved' && latest.resumedAt === null) return 'decided'
  if (latest.status !== 'pending') return undefined
  return one(
    db,
    `update approval_requests set status = 'cancelled', resolved_by = $2, decision = $3, decided_by_update = $4, resolved_at = now()
     where id = $1 and status = 'pending' returning ${columns}`,
    [latest.id, w.by, JSON.stringify({ type: 'reject', message: w.reason }), w.updateId],
  )
}