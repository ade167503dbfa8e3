import { InlineKeyboard } from 'grammy'
import { mayAllowInThread, routesOf } from '../../services/approvals.ts'
import type { ApprovalRow } from '../../services/approvals.ts'
import type { ApprovalStatus } from '../../domain/approvals.ts'
import { buttonCodec } from '../callback-data.ts'
import { bold, code, html, pre } from '../format/html.ts'
import type { Html } from '../format/html.ts'
import { utcMinute } from '../format/time.ts'

export type ButtonAction = 'approve' | 'reject' | 'edit' | 'allow' | 'pr'
const ACTIONS = { a: 'approve', r: 'reject', e: 'edit', c: 'allow', p: 'pr' } as const
const LETTERS = { approve: 'a', reject: 'r', edit: 'e', allow: 'c', pr: 'p' } as const

/** An approval's buttons carry only the request id and the button: `ap:<id>:<a|r|e|c|p>` (c: allow for the conversation; p: open a pull request). */
export const approvalButtons = buttonCodec<{ id: string; action: ButtonAction }>('ap', {
  encode: ({ id, action }) => [id, LETTERS[action]],
  decode: ([id, letter, ...rest]) =>
    rest.length === 0 && id !== undefined && /^[A-Za-z0-9_-]{12}$/.test(id) && letter !== undefined && letter in ACTIONS ? { id, action: ACTIONS[letter as keyof typeof ACTIONS] } : undefined,
})

/** The words on a request's buttons and in its outcome: a push is pushed or discarded. */
export const words = (type: ApprovalRow['type']) =>
  type === 'push' ? { approve: 'Push', reject: 'Discard', approved: 'Push approved', rejected: 'Discarded' } : { approve: 'Approve', reject: 'Reject', approved: 'Approved', rejected: 'Rejected' }

/**
 * The request's buttons: approve and reject (push or discard), Edit when an argument can be changed,
 * and, for a tool call, "Allow for this conversation" on a row of its own.
 */
export function approvalKeyboard(row: Pick<ApprovalRow, 'id' | 'payload' | 'type' | 'taskId'>): InlineKeyboard {
  const w = words(row.type)
  const button = (action: ButtonAction) => approvalButtons.encode({ id: row.id, action })
  if (row.type === 'push') {
    // A task's change: Push where a push is offered, Open PR where a pull request is, and Discard.
    const routes = routesOf(row)
    const keyboard = new InlineKeyboard()
    if (routes.push) keyboard.text(w.approve, button('approve'))
    if (routes.pr) keyboard.text('Open PR', button('pr'))
    return keyboard.text(w.reject, button('reject'))
  }
  const keyboard = new InlineKeyboard().text(w.approve, button('approve')).text(w.reject, button('reject'))
  if (row.payload.editableArg) keyboard.text('Edit', button('edit'))
  return mayAllowInThread(row) ? keyboard.row().text('Allow for this conversation', button('allow')) : keyboard
}

const MAX_ARGS_SHOWN = 12


function argText(value: unknown): string {
  const text = typeof value === 'string' ? value : (JSON.stringify(value) ?? String(value))
  return text.length > 300 ? `${text.slice(0, 300)}…` : text
}

/** An argument's value as code: inline, or a block when it spans lines. */
function argHtml(value: unknown): Html {
  const text = argText(value)
  return text.includes('\n') ? pre(text) : code(text)
}

/** Who asked: their name, with their id when the name is not just the id. */
const askedBy = (name: string, id: number) => (name === String(id) ? html`${name}` : html`${name} (${code(String(id))})`)

/**
 * The approval message as Telegram HTML: what will happen, the tool (bold) and its arguments (code),
 * who asked, and when it expires. Everything the model or a person wrote is escaped. Pure, for tests.
 */
export function approvalText(row: Pick<ApprovalRow, 'payload' | 'requesterId' | 'expiresAt' | 'type'> & Partial<Pick<ApprovalRow, 'taskId'>>, requesterName: string): Html {
  const what = row.type === 'push' ? pushQuestion(row) : html`${row.payload.description}`
  // Each value is cut at 300 characters and at most 12 are shown, so the message stays one message.
  const entries = Object.entries(row.payload.args)
  const args = [...entries.slice(0, MAX_ARGS_SHOWN).map(([k, v]) => html`\n${k.slice(0, 60)}: ${argHtml(v)}`), ...(entries.length > MAX_ARGS_SHOWN ? [html`\n… and ${entries.length - MAX_ARGS_SHOWN} more`] : [])]
  return html`${bold(`Approval needed (${row.type})`)}
${what}

Tool: ${bold(row.payload.tool)}${args}

Asked by: ${askedBy(requesterName, row.requesterId)}
Expires: ${utcMinute(row.expiresAt)}`
}

/** What a task's approval asks: push, open a pull request, or either. */
function pushQuestion(row: Pick<ApprovalRow, 'payload' | 'type'> & Partial<Pick<ApprovalRow, 'taskId'>>): Html {
  const { push, pr } = routesOf(row)
  const task = code(row.taskId ?? '?')
  const into = argHtml(row.payload.args.pullRequestInto)
  if (push && pr) return html`Push the change of task ${task} to ${argHtml(row.payload.args.target)}, or open a pull request into ${into}? Discard deletes it.`
  if (pr) return html`Open a pull request for the change of task ${task} into ${into}? Discard deletes it.`
  return html`Push the change of task ${task} to ${argHtml(row.payload.args.target)}? Discard deletes it.`
}

const OUTCOME: Record<Exclude<ApprovalStatus, 'pending'>, string> = {
  approved: 'Approved',
  rejected: 'Rejected',
  timeout: 'Expired without a decision',
  cancelled: 'Cancelled',
}

/** The line added to the message once decided, in bold: the outcome, who decided, and when. */
export function outcomeLine(row: Pick<ApprovalRow, 'status' | 'resolvedAt' | 'decision' | 'type'> & Partial<Pick<ApprovalRow, 'allowInThread' | 'route'>>, deciderName: string | undefined): Html {
  const status = row.status === 'pending' ? 'approved' : row.status
  const w = words(row.type)
  const approved = row.route === 'pr' ? 'Pull request approved' : w.approved
  const label = status === 'approved' ? `${approved}${row.allowInThread ? ' for this conversation' : ''}` : status === 'rejected' ? w.rejected : OUTCOME[status]
  const edited = (row.decision as { type?: string } | null)?.type === 'edit' ? ' (with changes)' : ''
  const by = deciderName && row.status !== 'timeout' ? ` by ${deciderName}` : ''
  return bold(`${label}${edited}${by} at ${utcMinute(row.resolvedAt ?? new Date())}`)
}

/** The request's state in a sentence ("This request was already …"), plain text for alerts. */
export const statusWord = (status: ApprovalStatus) => (status === 'pending' ? 'pending' : OUTCOME[status].toLowerCase())
