import type { BudgetWarning } from './budgets.ts'
import type { ModelError } from '../agents/model.ts'
import type { ApprovalRow } from '../db/approvals.ts'
import type { TaskRow } from '../db/tasks.ts'

/** Where a message goes: a chat, or a forum topic of it. */
export interface ChatTarget {
  chatId: number
  topicId?: number | undefined
}

/** A person as services see them: who acts, and the name a chat shows for them. */
export interface Person {
  id: number
  name: string
}

/**
 * What services need shown in a chat, and nothing about how: the bot implements it (words,
 * formatting, buttons live in bot/), so services never import grammY and arrows keep pointing down.
 */
export interface ChatOutput {
  /** Sends the request with its buttons; returns the message's id. */
  approvalRequested(target: ChatTarget, row: ApprovalRow): Promise<number>
  /** Shows how a request ended on its message (buttons gone). Best effort. */
  approvalSettled(row: ApprovalRow, decider: Person | undefined): Promise<void>
  /** An agent's answer. */
  answer(target: ChatTarget, answer: { text: string; agent?: string | undefined }): Promise<void>
  /** The model gave up after its retries. */
  modelFailed(target: ChatTarget, err: ModelError): Promise<void>
  /** GitHub did not open a task's pull request (`task.error` says why); the approval to retry follows. */
  pullRequestRefused(task: TaskRow): Promise<number[]>
  /** A task's change is ready: its summary and diff (the push approval follows). */
  taskReady(task: TaskRow): Promise<number[]>
  /** A task ended (pushed, nothing changed, failed, cancelled): tells the chat `taskEndText`. */
  taskEnded(task: TaskRow): Promise<number[]>
  /** The sentence that tells how a task ended (the agent's follow-up reads it too). */
  taskEndText(task: TaskRow): string
  /** A budget passed 80 % of its cap this period (said once per period). */
  budgetWarning(chatId: number, warning: BudgetWarning): Promise<void>
  /** The person's message waits behind a backlog: it is stored and will be answered. */
  catchingUp(target: ChatTarget): Promise<void>
  /** A reminder's text, said late when `lateMs` is set; returns the message's id (the proof of delivery). */
  reminder(target: ChatTarget, r: { text: string; ownerName: string; lateMs?: number | undefined }): Promise<number>
  /** A scheduled job's answer, under the prompt it answers; returns the first message's id. */
  jobAnswer(target: ChatTarget, j: { prompt: string; text: string; agent?: string | undefined; lateMs?: number | undefined; missingAgent?: string | undefined }): Promise<number>
}
