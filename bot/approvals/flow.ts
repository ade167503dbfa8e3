import type { Api } from 'grammy'
import { ModelError, describeModelError } from '../../agents/model.ts'
import { audit } from '../../db/audit-log.ts'
import { createApproval, decide, markResumed, setMessageId } from '../../db/approvals.ts'
import type { ApprovalPayload, ApprovalRow } from '../../db/approvals.ts'
import type { ApprovalKind } from '../../domain/approvals.ts'
import { queueStep } from '../../db/tasks.ts'
import type { Database } from '../../db/database.ts'
import type { Decision } from '../../domain/approvals.ts'
import type { Turns, TurnOutcome } from '../../graph/turns.ts'
import type { Logger } from '../../logger.ts'
import type { Context } from '../context.ts'
import type { ReplyStream } from '../reply-stream.ts'
import { splitMessage } from '../split-message.ts'
import { approvalKeyboard, approvalText, outcomeLine } from './message.ts'

export interface FlowDeps {
  api: Api
  db: Database
  conversation: Turns
  log: Logger
  approvalTtlMs: number
  /** A task step was queued (a push or discard decided): start it now. */
  wakeTasks: () => void
}

export interface Requester {
  id: number
  name: string
}

/** The flow's dependencies as a handler has them. */
export const flowDeps = (ctx: Context): FlowDeps => ({
  api: ctx.api,
  db: ctx.services.db,
  conversation: ctx.services.conversation,
  log: ctx.log,
  approvalTtlMs: ctx.services.approvalTtlMs,
  wakeTasks: ctx.services.wakeTasks,
})

export interface ApprovalTarget {
  chatId: number
  threadId: string
  requester: Requester
  /** The forum topic the conversation is in: the request's message goes there. */
  topicId?: number | undefined
}

/** An answer as the chat sees it: which agent wrote it, then the text. */
export const signed = (agent: string | undefined, text: string) => (agent ? `[${agent}] ${text}` : text)

/**
 * Records an approval and sends its message with the buttons. Keyed by `interruptId`, so a retried
 * update re-sends a message that failed, never a second request.
 */
export async function requestApproval(
  deps: FlowDeps,
  target: ApprovalTarget,
  a: { interruptId: string; type: ApprovalKind; payload: Omit<ApprovalPayload, 'requesterName'>; taskId?: string },
): Promise<void> {
  const { api, db } = deps
  const row = await createApproval(db.pool, {
    chatId: target.chatId,
    requesterId: target.requester.id,
    threadId: target.threadId,
    interruptId: a.interruptId,
    type: a.type,
    payload: { ...a.payload, requesterName: target.requester.name },
    ttlMs: deps.approvalTtlMs,
    ...(a.taskId && { taskId: a.taskId }),
  })
  if (row.messageId !== null) return
  const message = await api.sendMessage(target.chatId, approvalText(row, target.requester.name), {
    reply_markup: approvalKeyboard(row),
    ...(target.topicId && { message_thread_id: target.topicId }),
  })
  await setMessageId(db.pool, row.id, message.message_id)
  deps.log.info({ approvalId: row.id, type: a.type, tool: a.payload.tool, threadId: target.threadId, taskId: a.taskId }, 'approval requested')
}

/** The person behind an update, as approvals name them. */
export const who = (ctx: Context): Requester => ({ id: ctx.from?.id ?? 0, name: ctx.from?.first_name ?? String(ctx.from?.id) })

/**
 * Shows how a run ended: the answer (signed by its agent; through `stream` when the reply was
 * previewed while written), or an approval message with its buttons.
 */
export async function presentOutcome(deps: FlowDeps, target: ApprovalTarget, outcome: TurnOutcome, stream?: ReplyStream): Promise<void> {
  if (outcome.kind === 'answer') {
    const text = signed(outcome.agent, outcome.text)
    if (stream) return stream.finish(text)
    for (const part of splitMessage(text)) await deps.api.sendMessage(target.chatId, part)
    return
  }
  await stream?.discard()
  const { request, interruptId } = outcome
  await requestApproval(deps, target, {
    interruptId,
    type: request.type,
    payload: { tool: request.tool, args: request.args, description: request.description, editableArg: request.editableArg },
  })
}

/**
 * Carries out a decided request: edits its message to show the outcome (buttons gone), writes the
 * audit log, resumes the thread with the stored decision, and posts what the agent does next.
 * Safe to repeat: the resume happens only while the thread still waits on this interrupt.
 */
export async function settle(deps: FlowDeps, row: ApprovalRow, decider: Requester | undefined): Promise<void> {
  const { api, db, conversation, log } = deps
  const requesterName = row.payload.requesterName ?? String(row.requesterId)
  if (row.messageId !== null) {
    const text = `${approvalText(row, requesterName)}\n\n${outcomeLine(row, decider?.name)}`
    await api.editMessageText(row.chatId, row.messageId, text).catch((err: unknown) => log.warn({ err, approvalId: row.id }, 'could not edit the approval message'))
  }
  await audit(db.pool, {
    action: 'approval_decided',
    actorId: decider?.id,
    chatId: row.chatId,
    detail: { approvalId: row.id, status: row.status, tool: row.payload.tool, decision: row.decision },
  })
  if (row.taskId) {
    // A push approval: the task runner pushes or discards; the task's report follows through the inbox.
    const queued = await queueStep(db.pool, row.taskId, row.status === 'approved' ? 'push' : 'discard')
    log.info({ approvalId: row.id, taskId: row.taskId, step: queued?.step }, 'push decision settled')
    if (queued) deps.wakeTasks()
    await markResumed(db.pool, row.id)
    return
  }
  let outcome: TurnOutcome | undefined
  try {
    outcome = await conversation.resume(row.threadId, row.interruptId, row.decision, { chatId: row.chatId, userId: row.requesterId })
  } catch (err) {
    // The decision is applied (tools ran and were checkpointed); only the model's follow-up failed.
    if (!(err instanceof ModelError)) throw err
    log.error({ err, kind: err.kind, approvalId: row.id }, 'model failed after a decision')
    outcome = { kind: 'answer', text: describeModelError(err) }
  }
  log.info({ approvalId: row.id, status: row.status, resumed: outcome !== undefined }, 'approval settled')
  if (outcome) await presentOutcome(deps, { chatId: row.chatId, threadId: row.threadId, requester: { id: row.requesterId, name: requesterName } }, outcome)
  await markResumed(db.pool, row.id)
}

/** Only the person who asked, or an admin, may decide. */
export const canDecide = (userId: number, row: Pick<ApprovalRow, 'requesterId'>, isAdmin: boolean) => isAdmin || userId === row.requesterId

/**
 * Decides atomically (of two presses at once exactly one wins), then settles. `onDecided` runs in
 * between, for what must happen at once (answering the button). Undefined: someone else was first.
 */
export async function decideAndSettle(
  ctx: Context,
  row: ApprovalRow,
  status: 'approved' | 'rejected' | 'cancelled',
  decision: Decision,
  onDecided?: () => Promise<unknown>,
): Promise<ApprovalRow | undefined> {
  const decided = await decide(ctx.services.db.pool, { id: row.id, status, by: who(ctx).id, decision, updateId: ctx.update.update_id })
  if (!decided) return undefined
  await onDecided?.()
  await settle(flowDeps(ctx), decided, who(ctx))
  return decided
}
