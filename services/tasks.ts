import type { CodeChangeArgs, TaskQueue } from '../agents/coder.ts'
import { ModelError } from '../agents/model.ts'
import type { ToolContext } from '../agents/tools/tool.ts'
import { isCurrentThread } from '../db/chat-threads.ts'
import type { Pool } from '../db/database.ts'
import * as db from '../db/tasks.ts'
import type { TaskRow } from '../db/tasks.ts'
import { taskBranch } from '../domain/names.ts'
import type { Turns } from '../graph/turns.ts'
import type { Logger } from '../logger.ts'
import type { Wakeup } from '../wakeup.ts'
import type { Approvals, ApprovalTarget } from './approvals.ts'
import { canDecide } from './approvals.ts'
import type { ChatOutput, Person } from './output.ts'

/** The internal event that tells a chat about its task. */
export const TASK_EVENT = db.TASK_EVENT
export type { TaskResult, TaskRow } from '../db/tasks.ts'

/** Where a task's messages go: its chat and thread, in the name of who asked for it. */
const targetOf = (task: TaskRow): ApprovalTarget => ({ chatId: task.chatId, threadId: task.threadId, requester: { id: task.requesterId, name: String(task.requesterId) } })

/**
 * The coder's tasks as the chat sees them: queue one (the coder tool), cancel, list. The task runner
 * (workspace/) does the work; TaskReports tells the chat how it went.
 */
export class Tasks implements TaskQueue {
  readonly #pool: Pool
  readonly #wake: Wakeup
  readonly #repositoryFor: (name: string | undefined, chatId: number) => Promise<string | null>
  readonly #approvals: () => Approvals

  constructor(deps: { pool: Pool; wake: Wakeup; repositoryFor?: ((name: string | undefined, chatId: number) => Promise<string | null>) | undefined; approvals: () => Approvals }) {
    this.#pool = deps.pool
    this.#wake = deps.wake
    this.#repositoryFor = deps.repositoryFor ?? (() => Promise.resolve(null))
    this.#approvals = deps.approvals
  }

  /** Queues an approved plan for aider in the repository it names (else the chat's, else the configured one); idempotent per tool call. */
  async queueCodeTask({ instructions, files, repository }: CodeChangeArgs, context: ToolContext): Promise<{ id: string; position: number; repository: string | null }> {
    const repo = await this.#repositoryFor(repository, context.chatId)
    const task = await db.createTask(this.#pool, { ...context, requesterId: context.userId, source: `${context.threadId}:${context.toolCallId}`, input: { instructions, files: files ?? [] }, repository: repo })
    this.#wake.wake()
    return { id: task.id, position: await db.queuePosition(this.#pool, task.id), repository: repo }
  }

  /** The chat's task a message shows (its progress, summary, end or push approval): a reply to it is a follow-up. */
  taskOfMessage = (chatId: number, messageId: number) => db.taskOfMessage(this.#pool, chatId, messageId)

  /**
   * Continues a task's change with new instructions from `by` (its requester or an admin): a new task
   * on the same branch that starts from the change so far. A change under review is superseded and its
   * push approval withdrawn. Idempotent per update.
   */
  async followUp(f: { chatId: number; taskId: string; instructions: string; by: Person; isAdmin: boolean; updateId: number }): Promise<{ task: TaskRow; of: TaskRow } | { refused: db.ContinueRefusal }> {
    const done = await db.continueTask(this.#pool, {
      parentId: f.taskId,
      chatId: f.chatId,
      requesterId: f.by.id,
      source: `followup:${f.chatId}:${f.updateId}`,
      instructions: f.instructions,
      allowed: (task) => canDecide(f.by.id, task, f.isAdmin),
      updateId: f.updateId,
    })
    if ('refused' in done) return done
    if (done.withdrawn) await this.#approvals().withdrawn(done.withdrawn, f.by)
    this.#wake.wake()
    return { task: done.task, of: done.parent }
  }

  /** Recent tasks of a chat, newest first. */
  listForChat = (chatId: number) => db.listChatTasks(this.#pool, chatId)
  counts = () => db.taskCounts(this.#pool)
  /** The progress message a task's chat shows: edited in place from then on, and at the end. */
  rememberProgressMessage = (taskId: string, messageId: number) => db.setProgressMessage(this.#pool, taskId, messageId)

  /**
   * Cancels the chat's newest active task, if `by` may: a queued one at once, a running one by
   * asking its runner to stop aider.
   */
  async cancelNewest(chatId: number, by: Person, isAdmin: boolean): Promise<{ taskId: string; how: 'cancelled' | 'stopping' | 'denied' } | undefined> {
    const found = await db.cancelChatTask(this.#pool, chatId, (task) => canDecide(by.id, task, isAdmin))
    if (!found) return undefined
    if (found.how !== 'denied') this.#wake.wake()
    return { taskId: found.task.id, how: found.how }
  }
}

/** Tells a chat how its tasks went: the review and its push approval, the end, the agent's follow-up. */
export class TaskReports {
  readonly #pool: Pool
  readonly #turns: Turns
  readonly #approvals: Approvals
  readonly #output: ChatOutput
  readonly #log: Logger

  constructor(deps: { pool: Pool; turns: Turns; approvals: Approvals; output: ChatOutput; log: Logger }) {
    this.#pool = deps.pool
    this.#turns = deps.turns
    this.#approvals = deps.approvals
    this.#output = deps.output
    this.#log = deps.log
  }

  /**
   * Tells a chat how its task went; runs as an inbox event in the chat's lane, so in order with the
   * chat's messages. A change waiting for review gets its summary and a push approval; an ended task
   * gets one line, and its thread is resumed so the agent can follow up. A retried report is not
   * sent twice (`reported` holds the last state told).
   */
  async report(taskId: string): Promise<void> {
    const task = await db.getTask(this.#pool, taskId)
    if (!task || task.status === 'queued' || task.status === 'running') return
    // A change waiting again after GitHub refused its pull request is a new state each time.
    const refusals = task.status === 'waiting' && task.step === 'pr' ? (task.result?.prRefusals ?? 0) : 0
    const state = `${task.status}:${task.step}${refusals ? `:${refusals}` : ''}`

    if (task.status === 'waiting') {
      if (task.reported === state) return
      const shown = refusals ? await this.#output.pullRequestRefused(task) : await this.#output.taskReady(task)
      await db.addTaskMessages(this.#pool, task.id, shown)
      // The ways offered were fixed with the change (a row from before pull requests offers a push).
      const into = task.result?.pullRequestInto
      const target = task.result?.pushTarget ?? (into ? undefined : taskBranch(task.id))
      await this.#approvals.request(targetOf(task), {
        interruptId: `task:${task.id}:push${refusals ? `:${refusals}` : ''}`,
        type: 'push',
        taskId: task.id,
        payload: {
          tool: 'push',
          args: { branch: task.result?.branch, ...(target && { target }), ...(into && { pullRequestInto: into }) },
          description: target ? `push task ${task.id} to ${target}` : `open a pull request for task ${task.id} into ${into}`, // worded by the bot
        },
      })
      await db.markReported(this.#pool, task.id, state)
      return
    }

    // Told first, then followed up: `reported` moves from the state to `state+` once both happened.
    if (task.reported === `${state}+`) return
    if (task.reported !== state) {
      await db.addTaskMessages(this.#pool, task.id, await this.#output.taskEnded(task))
      await db.markReported(this.#pool, task.id, state)
      this.#log.info({ taskId: task.id, status: task.status, step: task.step }, 'task reported')
    }
    await this.#followUp(task, state)
    await db.markReported(this.#pool, task.id, `${state}+`)
  }

  /** What the agent is told when a task ended: what the person read, so both know the same. */
  #noteFor(task: TaskRow): string {
    const told = this.#output.taskEndText(task)
    return task.status === 'completed' && task.result?.pushedTo ? `${told} The change is on the remote now.` : told
  }

  /**
   * Resumes the task's thread with a note about how it ended, so the agent can follow up. Skipped when
   * the chat moved on to a new conversation or the thread waits for a decision; a model failure only
   * costs the follow-up (the person already has the facts).
   */
  async #followUp(task: TaskRow, state: string): Promise<void> {
    if (!(await isCurrentThread(this.#pool, task.threadId))) return
    if (await this.#turns.pending(task.threadId)) return
    try {
      const outcome = await this.#turns.reply({
        threadId: task.threadId,
        turnId: `task:${task.id}:${state}`,
        text: `[Mechanic, not the person] ${this.#noteFor(task)} Follow up briefly if useful.`,
        agent: task.agent,
        chatId: task.chatId,
        userId: task.requesterId,
      })
      await this.#approvals.present(targetOf(task), outcome)
    } catch (err) {
      if (!(err instanceof ModelError)) throw err
      this.#log.warn({ err, taskId: task.id }, 'the agent could not follow up on a task')
    }
  }
}
