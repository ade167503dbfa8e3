import { parseTaskError } from '../../domain/task-errors.ts'
import type { TaskRow } from '../../services/tasks.ts'

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

/** Why a task failed or was cancelled, in a sentence, from its stored code. Pure, for tests. */
export function taskErrorText(stored: string | null): string {
  if (stored === null) return 'no reason was recorded.'
  const parsed = parseTaskError(stored)
  if (!parsed) return stored // a row from before codes: already a sentence
  const { code, detail } = parsed
  switch (code) {
    case 'cancelled_queued':
      return 'Cancelled before it started.'
    case 'cancelled_running':
      return 'Cancelled while it ran; nothing was kept.'
    case 'discarded':
      return 'Discarded; nothing was pushed.'
    case 'no_change_to_push':
      return 'The task has no change to push.'
    case 'repo_conflict':
      return `The change conflicts with ${detail ?? 'the target branch'} on the remote, so nothing was pushed. Ask again to redo it on the current code.`
    case 'repo_auth':
      return 'The remote refused the credentials; check GIT_ACCESS_TOKEN. Nothing was pushed.'
    case 'repo_remote':
      return 'The remote repository could not be reached; check GIT_REMOTE_URL and try again.'
    case 'repo_rejected':
      return `The remote kept rejecting the push to ${detail ?? 'the target branch'}; nothing was forced. Try again.`
    case 'repo_state':
      return `A git step failed (${detail ?? 'no detail'}).`
    case 'aider_start':
      return 'aider could not be started on the server (check AIDER_BIN).'
    case 'aider_timeout':
      return `aider did not finish within ${detail ?? '?'} s and was stopped; nothing was kept.`
    case 'aider_failed':
      return `aider failed (exit code ${detail ?? 'none'}) without changing anything.`
    case 'too_large':
      return `The change is too large to review from Telegram (${detail ?? '?'} kB); nothing was kept.`
    case 'stopped_running':
      return 'Mechanic stopped while the task ran; nothing was pushed.'
    case 'stopped_pushing':
      return 'Mechanic stopped while pushing; check the remote before trying again.'
    case 'stopped_discarding':
      return 'Mechanic stopped while discarding the change.'
    case 'unexpected':
      return 'The task failed unexpectedly; the details are in the service log.'
  }
}

/** What the person reads when a task ends. Pure, for tests. */
export function endText(task: Pick<TaskRow, 'id' | 'status' | 'result' | 'error'>): string {
  const r = task.result ?? {}
  if (task.status === 'completed' && r.pushedTo) return `Task ${task.id}: pushed to ${r.pushedTo} (${r.pushedSha?.slice(0, 10) ?? '?'}).`
  if (task.status === 'completed') return `Task ${task.id} finished, but aider changed nothing.${r.explanation ? `\n\naider: ${r.explanation}` : ''}`
  const word = task.status === 'failed' ? 'failed' : 'was cancelled'
  return `Task ${task.id} ${word}: ${taskErrorText(task.error)}`
}
