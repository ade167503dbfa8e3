import type { BudgetWarning } from '../services/budgets.ts'
import { budgetWarningText } from './model-errors.ts'
import { InputFile } from 'grammy'
import type { Api } from 'grammy'
import type { ModelError } from '../agents/model.ts'
import { requesterOf } from '../services/approvals.ts'
import type { ApprovalRow } from '../services/approvals.ts'
import type { TaskRow } from '../services/tasks.ts'
import type { Logger } from '../logger.ts'
import type { ChatOutput, ChatTarget, Person } from '../services/output.ts'
import { approvalKeyboard, approvalText, outcomeLine } from './approvals/message.ts'
import { describeModelError } from './model-errors.ts'
import { bold, code, html, htmlToPlain } from './format/html.ts'
import type { Html } from './format/html.ts'
import { answerHtml, answerParts } from './format/reply.ts'
import { jobHeader, reminderHtml } from './schedules/words.ts'
import { splitHtml } from './format/split.ts'
import { INLINE_DIFF_CHARS, diffOf, endText, pullRequestRefusedText, summaryText } from './tasks/report.ts'

const inTopic = (target: ChatTarget) => (target.topicId ? { message_thread_id: target.topicId } : {})
const HTML = { parse_mode: 'HTML' } as const

/** What services show in a chat, as Telegram messages: the words and buttons people see. */
export class TelegramOutput implements ChatOutput {
  readonly #api: Api
  readonly #log: Logger

  constructor(api: Api, log: Logger) {
    this.#api = api
    this.#log = log
  }

  async approvalRequested(target: ChatTarget, row: ApprovalRow): Promise<number> {
    const message = await this.#api.sendMessage(target.chatId, approvalText(row, requesterOf(row).name).html, {
      reply_markup: approvalKeyboard(row),
      ...HTML,
      ...inTopic(target),
    })
    return message.message_id
  }

  async approvalSettled(row: ApprovalRow, decider: Person | undefined): Promise<void> {
    if (row.messageId === null) return
    const text = html`${approvalText(row, requesterOf(row).name)}\n\n${outcomeLine(row, decider?.name)}`
    await this.#api.editMessageText(row.chatId, row.messageId, text.html, HTML)
  }

  async answer(target: ChatTarget, answer: { text: string; agent?: string | undefined }): Promise<void> {
    await this.#sendParts(target, answerParts(answer.agent, answer.text))
  }

  async reminder(target: ChatTarget, r: { text: string; ownerName: string; lateMs?: number | undefined }): Promise<number> {
    return (await this.#sendParts(target, splitHtml(reminderHtml(r).html)))!
  }

  async jobAnswer(target: ChatTarget, j: { prompt: string; text: string; agent?: string | undefined; lateMs?: number | undefined; missingAgent?: string | undefined }): Promise<number> {
    return (await this.#sendParts(target, splitHtml(`${jobHeader(j).html}\n\n${answerHtml(j.agent, j.text)}`)))!
  }

  /** Sends HTML parts in order; returns the first one's message id. */
  async #sendParts(target: ChatTarget, parts: readonly string[]): Promise<number | undefined> {
    let first: number | undefined
    for (const part of parts) {
      const sent = await this.#api.sendMessage(target.chatId, part, { ...HTML, ...inTopic(target) })
      first ??= sent.message_id
    }
    return first
  }

  async modelFailed(target: ChatTarget, err: ModelError): Promise<void> {
    await this.#api.sendMessage(target.chatId, describeModelError(err), inTopic(target))
  }

  // Each returns the ids of the messages it sent: a reply to one of them is a follow-up of the task.
  async taskReady(task: TaskRow): Promise<number[]> {
    await this.#editProgress(task, html`Task ${code(task.id)}: ${bold('done')}, waiting for your review.`)
    const patch = task.result?.patch ?? ''
    const inline = diffOf(patch).length <= INLINE_DIFF_CHARS
    const ids: number[] = []
    for (const part of splitHtml(summaryText(task, { inlineDiff: inline }).html)) ids.push((await this.#api.sendMessage(task.chatId, part, HTML)).message_id)
    if (!inline) ids.push((await this.#api.sendDocument(task.chatId, new InputFile(Buffer.from(patch), `task-${task.id}.diff`))).message_id)
    return ids
  }

  async pullRequestRefused(task: TaskRow): Promise<number[]> {
    await this.#editProgress(task, html`Task ${code(task.id)}: ${bold('pull request refused')}, waiting for your decision.`)
    return [(await this.#api.sendMessage(task.chatId, pullRequestRefusedText(task).html, HTML)).message_id]
  }

  async taskEnded(task: TaskRow): Promise<number[]> {
    await this.#editProgress(task, html`Task ${code(task.id)}: ${bold(task.status)}.`)
    return [(await this.#api.sendMessage(task.chatId, endText(task).html, HTML)).message_id]
  }

  async budgetWarning(chatId: number, warning: BudgetWarning): Promise<void> {
    await this.#api.sendMessage(chatId, budgetWarningText(warning))
  }

  async catchingUp(target: ChatTarget): Promise<void> {
    await this.#api.sendMessage(target.chatId, "I'm catching up on a backlog of messages. Yours is safely queued, and I'll answer it as soon as I reach it.", inTopic(target))
  }

  /** An update failed for good: the person hears it, so they can send it again. */
  async gaveUp(chatId: number): Promise<void> {
    await this.#api.sendMessage(chatId, 'Sorry, I could not handle your last message, even after several tries. Please send it again.')
  }

  /** The chat's end-of-task message as plain text, for the agent's follow-up: the same words the person read. */
  taskEndText(task: TaskRow): string {
    return htmlToPlain(endText(task).html)
  }

  async #editProgress(task: TaskRow, text: Html): Promise<void> {
    if (task.progressMessageId === null) return
    await this.#api.editMessageText(task.chatId, task.progressMessageId, text.html, HTML).catch((err: unknown) => this.#log.debug({ err, taskId: task.id }, 'could not edit the progress message'))
  }
}
