import type { Api } from 'grammy'
import type { TaskRow } from '../../db/tasks.ts'
import type { Logger } from '../../logger.ts'
import type { TaskProgress } from '../../workspace/task-runner.ts'
import { code, html, pre } from '../format/html.ts'
import type { Html } from '../format/html.ts'
import { firstPart } from '../format/split.ts'
import { ThrottledMessage } from '../throttled-message.ts'

/** The progress message as Telegram HTML: the task id as code, the activity, aider's last lines as a code block. Pure, for tests. */
export function progressText(taskId: string, p: TaskProgress): Html {
  const head = html`Task ${code(taskId)}: ${p.activity}…`
  return p.lines.length ? html`${head}\n\n${pre(p.lines.join('\n'))}` : head
}

/**
 * Shows a running task's progress in its chat as one message, edited in place at most every
 * `everyMs` (Telegram limits edits; a phone needs no more). Best effort: a failed edit is logged and
 * the next one tries again; progress is never worth failing a task for.
 */
export class TaskProgressReporter {
  readonly #messages = new Map<string, ThrottledMessage>()
  readonly #api: Api
  readonly #log: Logger
  readonly #everyMs: number
  readonly #onMessage: (taskId: string, messageId: number) => Promise<void>

  /** `onMessage` keeps a new progress message's id (the task's report edits it last). */
  constructor(deps: { api: Api; log: Logger; onMessage: (taskId: string, messageId: number) => Promise<void>; everyMs?: number }) {
    this.#api = deps.api
    this.#log = deps.log
    this.#onMessage = deps.onMessage
    this.#everyMs = deps.everyMs ?? 3000
  }

  update(task: TaskRow, progress: TaskProgress): void {
    let message = this.#messages.get(task.id)
    if (!message) {
      message = new ThrottledMessage({
        api: this.#api,
        target: { kind: 'message', chatId: task.chatId, messageId: task.progressMessageId ?? undefined, onMessage: (id) => this.#onMessage(task.id, id) },
        everyMs: this.#everyMs,
        log: this.#log.child({ taskId: task.id }),
        format: (text) => firstPart(text), // already HTML: kept to one message
      })
      this.#messages.set(task.id, message)
    }
    message.show(progressText(task.id, progress).html)
  }

  /** The task's step ended: no further edits (the report edits the message last). */
  async settle(taskId: string): Promise<void> {
    const message = this.#messages.get(taskId)
    if (!message) return
    this.#messages.delete(taskId)
    await message.close()
  }
}
