import { InputFile } from 'grammy'
import { ModelError } from '../../agents/model.ts'
import { isCurrentThread } from '../../db/chat-threads.ts'
import { getTask, markReported } from '../../db/tasks.ts'
import type { TaskRow } from '../../db/tasks.ts'
import { presentOutcome, requestApproval } from '../approvals/flow.ts'
import type { FlowDeps } from '../approvals/flow.ts'
import { splitMessage } from '../split-message.ts'

/** A diff up to this long is shown in the summary itself; a longer one goes as a `.diff` document. */
export const INLINE_DIFF_CHARS = 1500

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`

/** The review summary of a finished change: files, line counts, aider's explanation. Pure, for tests. */
export function summaryText(task: Pick<TaskRow, 'id' | 'result'>, opts: { inlineDiff: boolean }): string {
  const r = task.result ?? {}
  const files = r.files ?? []
  const lines = [
    `Task ${task.id} is ready for review: ${plural(files.length, 'file')} changed, +${r.added ?? 0} −${r.removed ?? 0}`,
    ...files.slice(0, 20).map((f) => `• ${f.path} (+${f.added} −${f.removed})`),
    ...(files.length > 20 ? [`• … and ${files.length - 20} more`] : []),
  ]
  if (r.explanation) lines.push('', `aider: ${r.explanation}`)
  if (opts.inlineDiff && r.patch) lines.push('', diffOf(r.patch))
  else if (r.patch) lines.push('', `The full diff is in task-${task.id}.diff below.`)
  return lines.join('\n')
}

/** The diff part of a patch (without its mail headers), for showing. */
export function diffOf(patch: string): string {
  const at = patch.indexOf('\ndiff --git ')
  return (at >= 0 ? patch.slice(at + 1) : patch).replace(/\n-- \n[\s\S]*$/, '').trimEnd()
}

/** Where a task's messages go: its chat and thread, in the name of who asked for it. */
const targetOf = (task: TaskRow) => ({ chatId: task.chatId, threadId: task.threadId, requester: { id: task.requesterId, name: String(task.requesterId) } })

/** What the person reads when a task ends, and the note the agent gets to follow up on. */
function endText(task: TaskRow): { text: string; note: string } {
  const r = task.result ?? {}
  if (task.status === 'completed' && r.pushedTo) {
    const text = `Task ${task.id}: pushed to ${r.pushedTo} (${r.pushedSha?.slice(0, 10) ?? '?'}).`
    return { text, note: `${text} The change is on the remote now.` }
  }
  if (task.status === 'completed') {
    const text = `Task ${task.id} finished, but aider changed nothing.${r.explanation ? `\n\naider: ${r.explanation}` : ''}`
    return { text, note: `Task ${task.id} finished without changing any file. aider said: ${r.explanation || '(nothing)'}` }
  }
  const word = task.status === 'failed' ? 'failed' : 'was cancelled'
  const text = `Task ${task.id} ${word}: ${task.error ?? 'no reason was recorded.'}`
  return { text, note: text }
}

/**
 * Tells a chat how its task went; runs as an inbox event in the chat's lane, so in order with the
 * chat's messages. A change waiting for review gets its summary (and the diff) and a push approval;
 * an ended task gets one line, and its thread is resumed so the agent can follow up. A retried
 * report is not sent twice (`reported` holds the last state told).
 */
export async function reportTask(deps: FlowDeps, taskId: string): Promise<void> {
  const { api, db, log } = deps
  const task = await getTask(db.pool, taskId)
  if (!task || task.status === 'queued' || task.status === 'running') return
  const state = `${task.status}:${task.step}`

  if (task.status === 'waiting') {
    if (task.reported === state) return
    await editProgress(deps, task, `Task ${task.id}: done, waiting for your review.`)
    const patch = task.result?.patch ?? ''
    const inline = diffOf(patch).length <= INLINE_DIFF_CHARS
    for (const part of splitMessage(summaryText(task, { inlineDiff: inline }))) await api.sendMessage(task.chatId, part)
    if (!inline) await api.sendDocument(task.chatId, new InputFile(Buffer.from(patch), `task-${task.id}.diff`))
    const target = task.result?.pushTarget ?? `mechanic/${task.id}`
    await requestApproval(deps, targetOf(task), {
      interruptId: `task:${task.id}:push`,
      type: 'push',
      taskId: task.id,
      payload: {
        tool: 'push',
        args: { branch: task.result?.branch, target },
        description: `Push the change of task ${task.id} to ${target}? Discard deletes it.`,
      },
    })
    await markReported(db.pool, task.id, state)
    return
  }

  // Told first, then followed up: `reported` moves from the state to `state+` once both happened.
  if (task.reported === `${state}+`) return
  const { text, note } = endText(task)
  if (task.reported !== state) {
    await editProgress(deps, task, `Task ${task.id}: ${task.status}.`)
    await api.sendMessage(task.chatId, text)
    await markReported(db.pool, task.id, state)
    log.info({ taskId: task.id, status: task.status, step: task.step }, 'task reported')
  }
  await followUp(deps, task, note, state)
  await markReported(db.pool, task.id, `${state}+`)
}

async function editProgress(deps: FlowDeps, task: TaskRow, text: string): Promise<void> {
  if (task.progressMessageId === null) return
  await deps.api.editMessageText(task.chatId, task.progressMessageId, text).catch((err: unknown) => deps.log.debug({ err, taskId: task.id }, 'could not edit the progress message'))
}

/**
 * Resumes the task's thread with a note about how it ended, so the agent can follow up. Skipped when
 * the chat moved on to a new conversation or the thread waits for a decision; a model failure only
 * costs the follow-up (the person already has the facts).
 */
async function followUp(deps: FlowDeps, task: TaskRow, note: string, state: string): Promise<void> {
  const { db, conversation, log } = deps
  if (!(await isCurrentThread(db.pool, task.threadId))) return
  if (await conversation.pending(task.threadId)) return
  try {
    const outcome = await conversation.reply({
      threadId: task.threadId,
      turnId: `task:${task.id}:${state}`,
      text: `[Mechanic, not the person] ${note} Follow up briefly if useful.`,
      agent: task.agent,
      chatId: task.chatId,
      userId: task.requesterId,
    })
    await presentOutcome(deps, targetOf(task), outcome)
  } catch (err) {
    if (!(err instanceof ModelError)) throw err
    log.warn({ err, taskId: task.id }, 'the agent could not follow up on a task')
  }
}
