import { randomBytes } from 'node:crypto'
import { inTransaction } from './database.ts'
import type { Pool } from './database.ts'
import { withdrawTaskApproval } from './approvals.ts'
import type { ApprovalRow } from './approvals.ts'
import { enqueueEvent } from './inbox.ts'

export type TaskStatus = 'queued' | 'running' | 'waiting' | 'completed' | 'failed' | 'cancelled'
export type TaskStep = 'code' | 'push' | 'discard' | 'pr'

export interface CodeTaskInput {
  instructions: string
  files: string[]
  /** A follow-up: the task whose change this one continues, on the same branch from the same base. */
  continues?: {
    taskId: string
    branch: string
    baseBranch: string
    baseSha: string
    /** The change so far (format-patch), applied before aider runs; the new patch holds both. */
    patch: string
    /** Whether that change is on the remote already (its own branch, or a pull request's). */
    pushed: boolean
  }
}

/** What a code task found out; filled in step by step. */
export interface TaskResult {
  branch?: string
  baseBranch?: string
  baseSha?: string
  commitSha?: string
  files?: Array<{ path: string; added: number; removed: number }>
  added?: number
  removed?: number
  /** aider's own short account of what it did. */
  explanation?: string
  /** `git format-patch` of the change: rebuilt from this when pushing, so no local branch must survive. */
  patch?: string
  aiderMs?: number
  /** The running aider's process group and host, to kill it should its runner die. */
  aiderPid?: number
  aiderHost?: string
  /** Where an approved push goes, fixed when the change is shown for review; unset when only a pull request is offered. */
  pushTarget?: string
  /** The branch a pull request would go into, when pull requests are offered. */
  pullRequestInto?: string
  pushedTo?: string
  pushedSha?: string
  /** Who approved the push or pull request (their name), for the pull request's body. */
  approvedBy?: string
  /** The pull request opened for the change. */
  pullRequest?: { number: number; url: string }
  /** How many times GitHub refused to open it (the change waits again after each, to retry or discard). */
  prRefusals?: number
  /** The test command's run after aider's edit (TASK_TEST_COMMAND), when one is set. */
  tests?: { passed: boolean; exitCode: number | null; timedOut: boolean; tail: string; ms: number }
}

export interface TaskRow {
  id: string
  chatId: number
  threadId: string
  requesterId: number
  agent: string
  kind: 'code'
  /** The repository it changes, by name; null: the configured one (GIT_REMOTE_URL). */
  repository: string | null
  status: TaskStatus
  step: TaskStep
  activity: string | null
  input: CodeTaskInput
  result: TaskResult | null
  error: string | null
  attempts: number
  claimedBy: string | null
  leaseUntil: Date | null
  cancelRequested: boolean
  progressMessageId: number | null
  reported: string | null
  createdAt: Date
  startedAt: Date | null
  finishedAt: Date | null
}

type Db = Pick<Pool, 'query'>

const columns = `id, chat_id as "chatId", thread_id as "threadId", requester_id as "requesterId", agent, kind, repository, status, step,
  activity, input, result, error, attempts, claimed_by as "claimedBy", lease_until as "leaseUntil",
  cancel_requested as "cancelRequested", progress_message_id as "progressMessageId", reported,
  created_at as "createdAt", started_at as "startedAt", finished_at as "finishedAt"`

type Raw = Omit<TaskRow, 'chatId' | 'requesterId' | 'progressMessageId'> & { chatId: string; requesterId: string; progressMessageId: string | null }
const toRow = (r: Raw): TaskRow => ({
  ...r,
  chatId: Number(r.chatId),
  requesterId: Number(r.requesterId),
  progressMessageId: r.progressMessageId === null ? null : Number(r.progressMessageId),
})

async function many(db: Db, sql: string, params: unknown[]): Promise<TaskRow[]> {
  const { rows } = await db.query<Raw>(sql, params)
  return rows.map(toRow)
}
const one = async (db: Db, sql: string, params: unknown[]) => (await many(db, sql, params))[0]

/** The event that tells a chat about its task, queued in the chat's inbox lane. */
export const TASK_EVENT = 'task_update'
const announce = (db: Db, task: TaskRow) => enqueueEvent(db, task.chatId, { type: TASK_EVENT, taskId: task.id })

/** Short ids that read well in a chat and in a branch name (`mechanic/k3f9x2qa`). */
export const newTaskId = () => randomBytes(5).toString('base64url').toLowerCase().replace(/[^a-z0-9]/g, 'x')

/**
 * Queues a code task. Idempotent per `source` (the tool call that asked for it): a retried tool run
 * gets the task it created before.
 */
export async function createTask(
  db: Db,
  t: { chatId: number; threadId: string; requesterId: number; agent: string; source: string; input: CodeTaskInput; repository?: string | null | undefined },
): Promise<TaskRow> {
  const row = await one(
    db,
    `insert into tasks (id, chat_id, thread_id, requester_id, agent, kind, source, input, repository)
     values ($1, $2, $3, $4, $5, 'code', $6, $7, $8)
     on conflict (source) do update set source = excluded.source
     returning ${columns}`,
    [newTaskId(), t.chatId, t.threadId, t.requesterId, t.agent, t.source, JSON.stringify(t.input), t.repository ?? null],
  )
  if (!row) throw new Error('insert into tasks returned no row')
  return row
}

export const getTask = (db: Db, id: string) => one(db, `select ${columns} from tasks where id = $1`, [id])

/**
 * Claims the oldest queued task for `claimant` under a lease. Tasks are claimed one by one; the
 * git lock, not the claim, decides which of them touches the repository first.
 */
export const claimTask = (db: Db, claimant: string, leaseMs: number) =>
  one(
    db,
    `update tasks set status = 'running', claimed_by = $1, lease_until = now() + make_interval(secs => $2::double precision / 1000),
       attempts = attempts + 1, started_at = coalesce(started_at, now()), activity = 'starting', updated_at = now()
     where id = (select id from tasks where status = 'queued' order by created_at for update skip locked limit 1)
     returning ${columns}`,
    [claimant, leaseMs],
  )

/**
 * Extends the lease of a running task. Returns whether the holder should go on: false when the task
 * was cancelled or taken away (its lease ran out and someone recovered it).
 */
export async function renewTask(db: Db, id: string, claimant: string, leaseMs: number): Promise<'go' | 'cancel' | 'lost'> {
  const { rows } = await db.query<{ cancel: boolean }>(
    `update tasks set lease_until = now() + make_interval(secs => $3::double precision / 1000)
     where id = $1 and claimed_by = $2 and status = 'running'
     returning cancel_requested as cancel`,
    [id, claimant, leaseMs],
  )
  if (!rows[0]) return 'lost'
  return rows[0].cancel ? 'cancel' : 'go'
}

export async function setActivity(db: Db, id: string, claimant: string, activity: string): Promise<void> {
  await db.query(`update tasks set activity = $3, updated_at = now() where id = $1 and claimed_by = $2 and status = 'running'`, [id, claimant, activity])
}

/** Merges facts into a running task's result (the claimant must still hold it). */
export async function noteResult(db: Db, id: string, claimant: string, facts: TaskResult): Promise<void> {
  await db.query(`update tasks set result = coalesce(result, '{}'::jsonb) || $3::jsonb where id = $1 and claimed_by = $2 and status = 'running'`, [id, claimant, JSON.stringify(facts)])
}

/**
 * Ends the running step of a task the claimant still holds, and queues the chat's report in the same
 * transaction, so a step never ends unreported or twice. Undefined when the claim was lost.
 */
export async function finishStep(
  pool: Pool,
  t: { id: string; claimant: string; status: Exclude<TaskStatus, 'queued' | 'running'>; result?: TaskResult; error?: string },
): Promise<TaskRow | undefined> {
  return inTransaction(pool, async (client) => {
    const row = await one(
      client,
      `update tasks set status = $3, result = coalesce(result, '{}'::jsonb) || $4::jsonb, error = $5, activity = null,
         claimed_by = null, lease_until = null, updated_at = now(),
         finished_at = case when $3 in ('completed', 'failed', 'cancelled') then now() end
       where id = $1 and claimed_by = $2 and status = 'running'
       returning ${columns}`,
      [t.id, t.claimant, t.status, JSON.stringify(t.result ?? {}), t.error ?? null],
    )
    if (row) await announce(client, row)
    return row
  })
}

/**
 * Hands a running task back to the queue unharmed (a shutdown interrupted it; the attempt is not
 * counted). False when the claimant no longer held it (the step ended after all, or it was taken).
 */
export async function requeueTask(db: Db, id: string, claimant: string): Promise<boolean> {
  const { rowCount } = await db.query(
    `update tasks set status = 'queued', claimed_by = null, lease_until = null, activity = null, attempts = greatest(attempts - 1, 0), updated_at = now()
     where id = $1 and claimed_by = $2 and status = 'running'`,
    [id, claimant],
  )
  return rowCount === 1
}

/** A person decided on a finished change: queue its push or its discard. Undefined if it no longer waits. */
export const queueStep = (db: Db, id: string, step: 'push' | 'pr' | 'discard', approvedBy?: string) =>
  one(
    db,
    `update tasks set status = 'queued', step = $2, updated_at = now(),
       result = case when $3::text is null then result else coalesce(result, '{}'::jsonb) || jsonb_build_object('approvedBy', $3::text) end
     where id = $1 and status = 'waiting' returning ${columns}`,
    [id, step, approvedBy ?? null],
  )

/**
 * Running tasks no longer held (`claim_held`, migration 0006): their process died (kill -9, OOM, a
 * lost machine), which shows at once when its liveness lock is gone, else when the lease runs out.
 * Each is marked failed and its chat told; the git lock died with the process's connection. Any
 * instance may run this; `skip locked` keeps two from recovering the same task.
 */
export async function recoverExpired(pool: Pool): Promise<TaskRow[]> {
  return inTransaction(pool, async (client) => {
    const rows = await many(
      client,
      `update tasks set status = 'failed', claimed_by = null, lease_until = null, activity = null, updated_at = now(), finished_at = now(),
         error = case step when 'push' then 'stopped_pushing' when 'pr' then 'stopped_pushing' when 'discard' then 'stopped_discarding' else 'stopped_running' end
       where id in (select id from tasks where status = 'running' and not claim_held(lease_until, claimed_by, (select live_lock_keys())) for update skip locked)
       returning ${columns}`,
      [],
    )
    for (const row of rows) await announce(client, row)
    return rows
  })
}

/**
 * Cancels a chat's newest active task: a queued one at once (reported through the inbox), a running
 * one by flagging it for its runner, which stops aider. Returns the task and what was done.
 */
export async function cancelChatTask(
  pool: Pool,
  chatId: number,
  allowed: (task: TaskRow) => boolean,
): Promise<{ task: TaskRow; how: 'cancelled' | 'stopping' | 'denied' } | undefined> {
  return inTransaction(pool, async (client) => {
    const task = await one(client, `select ${columns} from tasks where chat_id = $1 and status in ('queued', 'running') order by created_at desc limit 1 for update`, [chatId])
    if (!task) return undefined
    if (!allowed(task)) return { task, how: 'denied' as const }
    if (task.status === 'running') {
      await client.query('update tasks set cancel_requested = true, updated_at = now() where id = $1', [task.id])
      return { task, how: 'stopping' as const }
    }
    const row = await one(
      client,
      `update tasks set status = 'cancelled', error = 'cancelled_queued', finished_at = now(), updated_at = now() where id = $1 returning ${columns}`,
      [task.id],
    )
    if (row) await announce(client, row)
    return { task: row ?? task, how: 'cancelled' as const }
  })
}

/** Why a task cannot be continued: it still runs, it has no change to go on from, or `allowed` said no. */
export type ContinueRefusal = 'busy' | 'ended' | 'denied' | 'unknown'

/** The change a follow-up of `task` starts from, if it has one to go on from. Pure. */
export function continuationOf(task: TaskRow): CodeTaskInput['continues'] | undefined {
  const r = task.result ?? {}
  const started = task.input.continues
  const branch = r.branch ?? started?.branch
  const ownBranchPushed = branch !== undefined && r.pushedTo === branch
  const from = (change: Pick<TaskResult, 'baseBranch' | 'baseSha' | 'patch'>, pushed: boolean) =>
    branch && change.baseBranch && change.baseSha && change.patch ? { taskId: task.id, branch, baseBranch: change.baseBranch, baseSha: change.baseSha, patch: change.patch, pushed } : undefined
  // Under review (the follow-up takes its place), or pushed to its own branch or opened as a pull request (more commits on it).
  if (task.status === 'waiting' || (task.status === 'completed' && ownBranchPushed)) return from(r, ownBranchPushed || (started?.pushed ?? false))
  // A follow-up that did not get to its review (failed, cancelled, its runner lost) still holds the
  // change it started from, so that change is never lost with it; one that was discarded or itself
  // continued is over.
  const over = /^(discarded|superseded)/.test(task.error ?? '')
  if (started && (task.status === 'failed' || task.status === 'cancelled') && !over) return { ...started, taskId: task.id, ...(r.patch && r.baseSha === started.baseSha && { patch: r.patch }) }
  return undefined
}

/**
 * Queues a follow-up of a chat's task: a new task on the same branch, from the same base, with the
 * change so far applied first. A task under review is superseded in the same transaction (cancelled,
 * not reported: the person just asked for its successor). Idempotent per `source`. Returns the new
 * task and the superseded one's pending approval (to withdraw), or why not.
 */
export async function continueTask(
  pool: Pool,
  f: { parentId: string; chatId: number; requesterId: number; source: string; instructions: string; allowed: (task: TaskRow) => boolean; updateId: number },
): Promise<{ task: TaskRow; parent: TaskRow; withdrawn: ApprovalRow | undefined } | { refused: ContinueRefusal }> {
  return inTransaction(pool, async (client) => {
    const existing = await one(client, `select ${columns} from tasks where source = $1`, [f.source])
    const parent = await one(client, `select ${columns} from tasks where id = $1 and chat_id = $2 for update`, [f.parentId, f.chatId])
    if (!parent) return { refused: 'unknown' as const }
    if (existing) return { task: existing, parent, withdrawn: undefined }
    if (parent.status === 'queued' || parent.status === 'running') return { refused: 'busy' as const }
    const continues = continuationOf(parent)
    if (!continues) return { refused: 'ended' as const }
    if (!f.allowed(parent)) return { refused: 'denied' as const }
    const task = await createTask(client, {
      chatId: parent.chatId,
      threadId: parent.threadId,
      requesterId: f.requesterId,
      agent: parent.agent,
      source: f.source,
      repository: parent.repository,
      input: { instructions: f.instructions, files: parent.input.files, continues },
    })
    if (parent.status !== 'waiting') return { task, parent, withdrawn: undefined }
    // Its push approval is withdrawn in this transaction, so a press at the same moment loses; one
    // already approved means the push is on its way, and the follow-up waits for it.
    const withdrawn = await withdrawTaskApproval(client, { taskId: parent.id, by: f.requesterId, updateId: f.updateId, reason: `continued by task ${task.id}` })
    if (withdrawn === 'decided') throw new PushUnderWay()
    await client.query(
      `update tasks set status = 'cancelled', error = $2, finished_at = now(), updated_at = now(), reported = 'cancelled:' || step || '+' where id = $1`,
      [parent.id, `superseded:${task.id}`],
    )
    return { task, parent, withdrawn }
  }).catch((err: unknown) => {
    // Rolled back: the new task and the withdrawal with it.
    if (err instanceof PushUnderWay) return { refused: 'busy' as const }
    throw err
  })
}

/** Thrown inside continueTask's transaction to roll it back: the change under review is being pushed. */
class PushUnderWay extends Error {}

/** The chat's task that a message belongs to: its progress, its summary or its push approval. */
export const taskOfMessage = (db: Db, chatId: number, messageId: number) =>
  one(
    db,
    `select ${columns} from tasks t where chat_id = $1 and (progress_message_id = $2 or $2 = any(message_ids)
       or exists (select 1 from approval_requests a where a.task_id = t.id and a.message_id = $2))
     order by created_at desc limit 1`,
    [chatId, messageId],
  )

/** Remembers messages that show a task (its summary), so a reply to one is a follow-up. */
export async function addTaskMessages(db: Db, id: string, messageIds: number[]): Promise<void> {
  if (messageIds.length) await db.query('update tasks set message_ids = message_ids || $2::bigint[] where id = $1', [id, messageIds])
}

/** Recent tasks of a chat, newest first (for /tasks). */
export const listChatTasks = (db: Db, chatId: number, limit = 10) =>
  many(db, `select ${columns} from tasks where chat_id = $1 order by created_at desc limit $2`, [chatId, limit])

export async function setProgressMessage(db: Db, id: string, messageId: number): Promise<void> {
  await db.query('update tasks set progress_message_id = $2 where id = $1 and progress_message_id is null', [id, messageId])
}

/** Records that the chat was told about `state`; false if it already was (a retried report). */
export async function markReported(db: Db, id: string, state: string): Promise<boolean> {
  const { rowCount } = await db.query('update tasks set reported = $2 where id = $1 and reported is distinct from $2', [id, state])
  return (rowCount ?? 0) > 0
}

/** Counts by status, for /status. */
export async function taskCounts(db: Db): Promise<Record<TaskStatus, number>> {
  const { rows } = await db.query<{ status: TaskStatus; n: string }>('select status, count(*) as n from tasks group by status')
  const counts = { queued: 0, running: 0, waiting: 0, completed: 0, failed: 0, cancelled: 0 }
  for (const r of rows) counts[r.status] = Number(r.n)
  return counts
}

/** How many active tasks are ahead of this one (0: it is next for the repository). */
export async function queuePosition(db: Db, id: string): Promise<number> {
  const { rows } = await db.query<{ n: string }>(
    `select count(*) as n from tasks t, tasks me
     where me.id = $1 and t.id <> me.id and t.status in ('queued', 'running') and t.created_at <= me.created_at
       and t.repository is not distinct from me.repository`,
    [id],
  )
  return Number(rows[0]?.n ?? 0)
}
