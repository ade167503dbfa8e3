import type { Api } from 'grammy'
import type { Pool } from '../../db/database.ts'
import { setProgressMessage } from '../../db/tasks.ts'
import type { TaskRow } from '../../db/tasks.ts'
import type { Logger } from '../../logger.ts'
import type { TaskProgress } from '../../workspace/task-runner.ts'

interface Slot {
  chatId: number
  messageId: number | undefined
  shown: string
  latest: string
  timer: NodeJS.Timeout | undefined
  inFlight: Promise<void> | undefined
  lastSent: number
}

/** The progress message's text. Pure, for tests. */
export function progressText(taskId: string, p: TaskProgress): string {
  const head = `Task ${taskId}: ${p.activity}…`
  return p.lines.length ? `${head}\n\n${p.lines.join('\n')}` : head
}

/**
 * Shows a running task's progress in its chat as one message, edited in place at most every
 * `everyMs` (Telegram limits edits; a phone needs no more). Best effort: a failed edit is logged and
 * the next one tries again; progress is never worth failing a task for.
 */
export class TaskProgressReporter {
  readonly #slots = new Map<string, Slot>()
  readonly #api: Api
  readonly #pool: Pool
  readonly #log: Logger
  readonly #everyMs: number

  constructor(deps: { api: Api; pool: Pool; log: Logger; everyMs?: number }) {
    this.#api = deps.api
    this.#pool = deps.pool
    this.#log = deps.log
    this.#everyMs = deps.everyMs ?? 3000
  }

  update(task: TaskRow, progress: TaskProgress): void {
    const text = progressText(task.id, progress)
    let slot = this.#slots.get(task.id)
    if (!slot) {
      slot = { chatId: task.chatId, messageId: task.progressMessageId ?? undefined, shown: '', latest: text, timer: undefined, inFlight: undefined, lastSent: 0 }
      this.#slots.set(task.id, slot)
    }
    slot.latest = text
    this.#schedule(task.id, slot)
  }

  #schedule(taskId: string, slot: Slot): void {
    if (slot.timer || slot.inFlight || slot.latest === slot.shown) return
    const wait = Math.max(0, slot.lastSent + this.#everyMs - Date.now())
    slot.timer = setTimeout(() => this.#flush(taskId, slot), wait)
  }

  /** The task's step ended: no further edits (the report edits the message last). */
  async settle(taskId: string): Promise<void> {
    const slot = this.#slots.get(taskId)
    if (!slot) return
    this.#slots.delete(taskId)
    clearTimeout(slot.timer)
    await slot.inFlight
  }

  #flush(taskId: string, slot: Slot): void {
    slot.timer = undefined
    if (this.#slots.get(taskId) !== slot || slot.latest === slot.shown) return
    const text = slot.latest
    slot.lastSent = Date.now()
    slot.inFlight = this.#send(taskId, slot, text)
      .catch((err: unknown) => this.#log.debug({ err, taskId }, 'could not show task progress'))
      .finally(() => {
        slot.inFlight = undefined
        if (this.#slots.get(taskId) === slot) this.#schedule(taskId, slot)
      })
  }

  async #send(taskId: string, slot: Slot, text: string): Promise<void> {
    if (slot.messageId === undefined) {
      const message = await this.#api.sendMessage(slot.chatId, text)
      slot.messageId = message.message_id
      await setProgressMessage(this.#pool, taskId, message.message_id)
    } else {
      await this.#api.editMessageText(slot.chatId, slot.messageId, text)
    }
    slot.shown = text
  }
}
