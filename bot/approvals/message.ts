import { InlineKeyboard } from 'grammy'
import type { ApprovalRow } from '../../services/approvals.ts'
import type { ApprovalStatus } from '../../domain/approvals.ts'
import { buttonCodec } from '../callback-data.ts'

export type ButtonAction = 'approve' | 'reject' | 'edit'
const ACTIONS = { a: 'approve', r: 'reject', e: 'edit' } as const
const LETTERS = { approve: 'a', reject: 'r', edit: 'e' } as const

/** An approval's buttons carry only the request id and the button: `ap:<id>:<a|r|e>`. */
export const approvalButtons = buttonCodec<{ id: string; action: ButtonAction }>('ap', {
  encode: ({ id, action }) => [id, LETTERS[action]],
  decode: ([id, letter, ...rest]) =>
    rest.length === 0 && id !== undefined && /^[A-Za-z0-9_-]{12}$/.test(id) && letter !== undefined && letter in ACTIONS ? { id, action: ACTIONS[letter as keyof typeof ACTIONS] } : undefined,
})

/** The words on a request's buttons and in its outcome: a push is pushed or discarded. */
export const words = (type: ApprovalRow['type']) =>
  type === 'push' ? { approve: 'Push', reject: 'Discard', approved: 'Push approved', rejected: 'Discarded' } : { approve: 'Approve', reject: 'Reject', approved: 'Approved', rejected: 'Rejected' }

export function approvalKeyboard(row: Pick<ApprovalRow, 'id' | 'payload' | 'type'>): InlineKeyboard {
  const w = words(row.type)
  const button = (action: ButtonAction) => approvalButtons.encode({ id: row.id, action })
  const keyboard = new InlineKeyboard().text(w.approve, button('approve')).text(w.reject, button('reject'))
  return row.payload.editableArg ? keyboard.text('Edit', button('edit')) : keyboard
}

const time = (d: Date) => `${d.toISOString().slice(0, 16).replace('T', ' ')} UTC`

function formatArg(value: unknown): string {
  const text = typeof value === 'string' ? value : JSON.stringify(value)
  return text.length > 300 ? `${text.slice(0, 300)}…` : text
}

/** The approval message: what will happen, the arguments, who asked, and when it expires. */
export function approvalText(row: Pick<ApprovalRow, 'payload' | 'requesterId' | 'expiresAt' | 'type'> & Partial<Pick<ApprovalRow, 'taskId'>>, requesterName: string): string {
  const args = Object.entries(row.payload.args).map(([k, v]) => `${k}: ${formatArg(v)}`)
  return [
    `Approval needed (${row.type})`,
    row.type === 'push' ? `Push the change of task ${row.taskId ?? '?'} to ${formatArg(row.payload.args.target)}? Discard deletes it.` : row.payload.description,
    '',
    `Tool: ${row.payload.tool}`,
    ...args,
    '',
    `Asked by: ${requesterName === String(row.requesterId) ? requesterName : `${requesterName} (${row.requesterId})`}`,
    `Expires: ${time(row.expiresAt)}`,
  ].join('\n')
}

const OUTCOME: Record<Exclude<ApprovalStatus, 'pending'>, string> = {
  approved: 'Approved',
  rejected: 'Rejected',
  timeout: 'Expired without a decision',
  cancelled: 'Cancelled',
}

/** The line added to the message once decided: the outcome, who decided, and when. */
export function outcomeLine(row: Pick<ApprovalRow, 'status' | 'resolvedAt' | 'decision' | 'type'>, deciderName: string | undefined): string {
  const status = row.status === 'pending' ? 'approved' : row.status
  const w = words(row.type)
  const label = status === 'approved' ? w.approved : status === 'rejected' ? w.rejected : OUTCOME[status]
  const edited = (row.decision as { type?: string } | null)?.type === 'edit' ? ' (with changes)' : ''
  const by = deciderName && row.status !== 'timeout' ? ` by ${deciderName}` : ''
  return `${label}${edited}${by} at ${time(row.resolvedAt ?? new Date())}`
}

export const statusWord = (status: ApprovalStatus) => (status === 'pending' ? 'pending' : OUTCOME[status].toLowerCase())
