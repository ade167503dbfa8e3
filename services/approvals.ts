import { ModelError } from '../agents/model.ts'
import { audit } from '../db/audit-log.ts'
import * as db from '../db/approvals.ts'
import type { ApprovalPayload, ApprovalRow } from '../db/approvals.ts'
import type { Pool } from '../db/database.ts'
import { enqueueEvent } from '../db/inbox.ts'
import { queueStep } from '../db/tasks.ts'
import { forgetAllowances, listAllowances } from '../db/tool-allowances.ts'
import type { ToolAllowance } from '../db/tool-allowances.ts'
import type { ApprovalKind, Decision } from '../domain/approvals.ts'
import { InvalidDecisionError, validateDecision } from '../graph/approval.ts'
import type { TurnOutcome, Turns } from '../graph/turns.ts'
import type { Logger } from '../logger.ts'
import type { Wakeup } from '../wakeup.ts'
import type { ChatOutput, ChatTarget, Person } from './output.ts'

/** Where a request is asked and answered: the chat (and topic), its thread, and who asked. */
export interface ApprovalTarget extends ChatTarget {
  threadId: string
  requester: Person
}

/** The internal event that settles a request which expired. */
export const APPROVAL_EXPIRED = 'approval_expired'
export type { ApprovalRow } from '../db/approvals.ts'
export type { ToolAllowance } from '../db/tool-allowances.ts'
export { InvalidDecisionError } from '../graph/approval.ts'

/** Only the person who asked, or an admin, may decide. */
export const canDecide = (userId: number, row: Pick<ApprovalRow, 'requesterId'>, isAdmin: boolean) => isAdmin || userId === row.requesterId

/** Who asked for a request, with the name the chat showed for them when it was asked. */
export const requesterOf = (row: Pick<ApprovalRow, 'requesterId' | 'payload'>): Person => ({ id: row.requesterId, name: row.payload.requesterName ?? String(row.requesterId) })

/**
 * The ways a task's change may go, as its approval offers them: pushed (to `target`) and opened as a
 * pull request (into `pullRequestInto`). Both are fixed when the approval is asked.
 */
export const routesOf = (row: Pick<ApprovalRow, 'type' | 'payload'>) => ({
  push: row.type === 'push' && typeof row.payload.args.target === 'string',
  pr: row.type === 'push' && typeof row.payload.args.pullRequestInto === 'string',
})

/**
 * Whether a request may be approved for the whole conversation: a tool call (an MCP tool, or another
 * tool that asks), never a coder's plan or a push, which are decided one at a time.
 */
export const mayAllowInThread = (row: Pick<ApprovalRow, 'type' | 'taskId'> & { payload?: Pick<ApprovalPayload, 'conversationAllowance'> }) =>
  row.type === 'tool' && row.taskId === null && row.payload?.conversationAllowance !== false

/** Whether a request can still be decided. */
export const isOpen = (row: Pick<ApprovalRow, 'status' | 'expiresAt'>, now = new Date()) => row.status === 'pending' && row.expiresAt > now

/**
 * The approval flow, the one place it lives: request (record it, show it), decide (of two presses
 * exactly one wins), settle (show the outcome, audit, resume the thread or queue the task's push),
 * expire. Button handlers, /cancel, /new and the inbox's events all call here.
 */
export class Approvals {
  readonly #pool: Pool
  readonly #turns: Turns
  readonly #output: ChatOutput
  readonly #ttlMs: number
  readonly #tasksWake: Wakeup
  readonly #log: Logger

  constructor(deps: { pool: Pool; turns: Turns; output: ChatOutput; ttlMs: number; tasksWake: Wakeup; log: Logger }) {
    this.#pool = deps.pool
    this.#turns = deps.turns
    this.#output = deps.output
    this.#ttlMs = deps.ttlMs
    this.#tasksWake = deps.tasksWake
    this.#log = deps.log
  }

  get = (id: string) => db.getApproval(this.#pool, id)
  /** The chat's pending request, if any (one thread per chat, one interrupt per thread). */
  pendingInChat = (chatId: number) => db.pendingForChat(this.#pool, chatId)
  /** Pending requests of every chat, oldest first (/approvals). */
  listPending = () => db.listPending(this.#pool)
  countPending = () => db.countPending(this.#pool)
  byInterrupt = (interruptId: string) => db.findByInterrupt(this.#pool, interruptId)
  /** The request whose Edit prompt `promptId` is. */
  byEditPrompt = (chatId: number, promptId: number) => db.findByEditPrompt(this.#pool, chatId, promptId)
  /** The Edit prompt was sent: a reply to it carries the changed argument. */
  awaitEdit = (id: string, promptId: number) => db.setEditPrompt(this.#pool, id, promptId)

  /**
   * Records a request and sends its message with the buttons. Keyed by `interruptId`, so a retried
   * update re-sends a message that failed, never a second request.
   */
  async request(target: ApprovalTarget, a: { interruptId: string; type: ApprovalKind; payload: Omit<ApprovalPayload, 'requesterName'>; taskId?: string }): Promise<void> {
    const row = await db.createApproval(this.#pool, {
      chatId: target.chatId,
      requesterId: target.requester.id,
      threadId: target.threadId,
      interruptId: a.interruptId,
      type: a.type,
      payload: { ...a.payload, requesterName: target.requester.name },
      ttlMs: this.#ttlMs,
      ...(a.taskId && { taskId: a.taskId }),
    })
    if (row.messageId !== null) return
    const messageId = await this.#output.approvalRequested(target, row)
    await db.setMessageId(this.#pool, row.id, messageId)
    this.#log.info({ approvalId: row.id, type: a.type, tool: a.payload.tool, threadId: target.threadId, taskId: a.taskId }, 'approval requested')
  }

  /** Shows how a run ended: the agent's answer, or a request for approval. */
  async present(target: ApprovalTarget, outcome: TurnOutcome): Promise<void> {
    if (outcome.kind === 'answer') return this.#output.answer(target, outcome)
    const { request, interruptId } = outcome
    await this.request(target, {
      interruptId,
      type: request.type,
      payload: { tool: request.tool, args: request.args, description: request.description, editableArg: request.editableArg, conversationAllowance: request.conversationAllowance },
    })
  }

  /**
   * Checks a person's edited arguments against the request the thread still waits on; throws
   * InvalidDecisionError (with a reason a person may read) when they cannot be used.
   */
  async editDecision(row: ApprovalRow, replacement: string): Promise<Decision> {
    const editable = row.payload.editableArg ?? ''
    const decision: Decision = { type: 'edit', args: { ...row.payload.args, [editable]: replacement } }
    const pending = await this.#turns.pending(row.threadId)
    if (!pending || pending.interruptId !== row.interruptId) throw new InvalidDecisionError('the request is no longer waiting')
    return validateDecision(decision, pending.request, this.#turns.tool(row.payload.tool))
  }

  /**
   * Decides atomically (of two presses at once exactly one wins), then settles. `onDecided` runs in
   * between, for what must happen at once (answering the button). Undefined: someone else was first.
   */
  async decide(
    row: ApprovalRow,
    d: { status: 'approved' | 'rejected' | 'cancelled'; decision: Decision; by: Person; updateId: number; allowInThread?: boolean | undefined; route?: 'push' | 'pr' | undefined },
    onDecided?: () => Promise<unknown>,
  ): Promise<ApprovalRow | undefined> {
    const allowInThread = d.allowInThread === true && d.status === 'approved' && mayAllowInThread(row)
    // A task's change goes a way its approval offered: the one asked for, else the only one there is.
    const routes = routesOf(row)
    const offered = (r: 'push' | 'pr' | undefined) => (r === 'push' && routes.push) || (r === 'pr' && routes.pr)
    const route = d.status === 'approved' && row.taskId ? (offered(d.route) ? d.route : routes.push ? 'push' : routes.pr ? 'pr' : 'push') : undefined
    const decided = await db.decide(this.#pool, { id: row.id, status: d.status, by: d.by.id, decision: d.decision, updateId: d.updateId, allowInThread, route })
    if (!decided) return undefined
    await onDecided?.()
    await this.settle(decided, d.by)
    return decided
  }

  /**
   * Carries out a decided request: shows the outcome on its message, writes the audit log, resumes
   * the thread with the stored decision (or queues the task's push or discard), and shows what the
   * agent does next. Safe to repeat: the resume happens only while the thread still waits on it.
   */
  async settle(row: ApprovalRow, decider: Person | undefined): Promise<void> {
    await this.#recordDecided(row, decider)
    if (row.taskId) {
      // A push approval: the task runner pushes, opens the pull request or discards; the task's report follows through the inbox.
      const step = row.status !== 'approved' ? 'discard' : row.route === 'pr' ? 'pr' : 'push'
      const queued = await queueStep(this.#pool, row.taskId, step, row.status === 'approved' ? decider?.name : undefined)
      this.#log.info({ approvalId: row.id, taskId: row.taskId, step: queued?.step }, 'push decision settled')
      if (queued) this.#tasksWake.wake()
      await db.markResumed(this.#pool, row.id)
      return
    }
    const target = { chatId: row.chatId, threadId: row.threadId, requester: requesterOf(row) }
    try {
      const outcome = await this.#turns.resume(row.threadId, row.interruptId, row.decision, { chatId: row.chatId, userId: row.requesterId })
      this.#log.info({ approvalId: row.id, status: row.status, resumed: outcome !== undefined }, 'approval settled')
      if (outcome) await this.present(target, outcome)
    } catch (err) {
      // The decision is applied (tools ran and were checkpointed); only the model's follow-up failed.
      if (!(err instanceof ModelError)) throw err
      this.#log.error({ err, kind: err.kind, approvalId: row.id }, 'model failed after a decision')
      await this.#output.modelFailed(target, err)
    }
    await db.markResumed(this.#pool, row.id)
  }

  /**
   * A task's push approval that a follow-up withdrew (in its own transaction): its message says so
   * and the audit log has it; nothing is queued, the follow-up replaces the change.
   */
  async withdrawn(row: ApprovalRow, by: Person): Promise<void> {
    await this.#recordDecided(row, by)
    await db.markResumed(this.#pool, row.id)
  }

  /** A decided request's outcome on its message (best effort) and in the audit log. */
  async #recordDecided(row: ApprovalRow, decider: Person | undefined): Promise<void> {
    await this.#output.approvalSettled(row, decider).catch((err: unknown) => this.#log.warn({ err, approvalId: row.id }, 'could not show the outcome of an approval'))
    await audit(this.#pool, {
      action: 'approval_decided',
      actorId: decider?.id,
      chatId: row.chatId,
      detail: { approvalId: row.id, status: row.status, tool: row.payload.tool, decision: row.decision, ...(row.allowInThread && { allowedForConversation: true, threadId: row.threadId }) },
    })
  }

  /** An expired request's event: resume its thread with the rejection it got (once). */
  async settleExpired(id: string): Promise<void> {
    const row = await db.getApproval(this.#pool, id)
    if (!row || row.resumedAt) return
    await this.settle(row, undefined)
  }

  /**
   * Marks due requests `timeout` and queues, in the same transaction, the event that settles each in
   * its chat's lane. One instance at a time runs it. Returns how many expired.
   */
  /** The tools people allowed for a conversation, newest first (for /approvals). */
  allowances(): Promise<ToolAllowance[]> {
    return listAllowances(this.#pool)
  }

  /** Forgets what was allowed in a thread: a new conversation asks again. */
  forgetAllowances(threadId: string): Promise<void> {
    return forgetAllowances(this.#pool, threadId)
  }

  async expireDue(): Promise<number> {
    const expired = await db.expireDue(this.#pool, (client, row) => enqueueEvent(client, row.chatId, { type: APPROVAL_EXPIRED, approvalId: row.id }).then(() => undefined))
    if (expired.length) this.#log.info({ approvals: expired.map((r) => r.id) }, 'approvals expired')
    return expired.length
  }
}
