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

/** What the person reads when a task ends. Pure, for tests. */
export function endText(task: Pick<TaskRow, 'id' | 'status' | 'result' | 'error'>): string {
  const r = task.result ?? {}
  if (task.status === 'completed' && r.pushedTo) return `Task ${task.id}: pushed to ${r.pushedTo} (${r.pushedSha?.slice(0, 10) ?? '?'}).`
  if (task.status === 'completed') return `Task ${task.id} finished, but aider changed nothing.${r.explanation ? `\n\naider: ${r.explanation}` : ''}`
  const word = task.status === 'failed' ? 'failed' : 'was cancelled'
  return `Task ${task.id} ${word}: ${task.error ?? 'no reason was recorded.'}`
}
