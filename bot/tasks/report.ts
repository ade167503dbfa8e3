import { parseTaskError } from '../../domain/task-errors.ts'
import { usd } from '../model-errors.ts'
import type { TaskResult, TaskRow } from '../../services/tasks.ts'
import { bold, code, html, pre } from '../format/html.ts'
import type { Html } from '../format/html.ts'

/** A diff up to this long is shown in the summary itself; a longer one goes as a `.diff` document. */
export const INLINE_DIFF_CHARS = 1500

/** Lines of HTML joined with line breaks. */
const joinLines = (lines: readonly Html[]): Html => html`${lines.map((l, i) => (i ? html`\n${l}` : l))}`

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`

/**
 * The review summary of a finished change, as Telegram HTML: the task id and file paths as code,
 * line counts, aider's explanation, and the diff as a `diff` code block (or where to find it). Pure, for tests.
 */
export function summaryText(task: Pick<TaskRow, 'id' | 'result'>, opts: { inlineDiff: boolean }): Html {
  const r = task.result ?? {}
  const files = r.files ?? []
  const lines: Html[] = [
    html`Task ${code(task.id)} is ${bold('ready for review')}: ${plural(files.length, 'file')} changed, +${r.added ?? 0} −${r.removed ?? 0}`,
    ...files.slice(0, 20).map((f) => html`• ${code(f.path)} (+${f.added} −${f.removed})`),
    ...(files.length > 20 ? [html`• … and ${files.length - 20} more`] : []),
  ]
  if (r.explanation) lines.push(html``, html`aider: ${r.explanation}`)
  if (r.tests) lines.push(html``, ...testLines(r.tests))
  if (opts.inlineDiff && r.patch) lines.push(html``, pre(diffOf(r.patch), 'diff'))
  else if (r.patch) {
    const excerpt = diffExcerpt(diffOf(r.patch), INLINE_DIFF_CHARS)
    if (excerpt) lines.push(html``, html`The largest changes:`, pre(excerpt, 'diff'))
    lines.push(html``, html`The full diff is in ${code(`task-${task.id}.diff`)} below.`)
  }
  return joinLines(lines)
}

/** Lines of one hunk shown at most, before "…". */
const HUNK_LINES = 12

/**
 * The most telling part of a diff too long to show whole: the first hunk of each file, the files
 * with the most changed lines first, each hunk cut at HUNK_LINES, until `budget` characters. Each
 * file keeps its `+++` line so a reader knows where a hunk belongs. Pure, for tests.
 */
export function diffExcerpt(diff: string, budget: number): string {
  const files = diff.split(/\n(?=diff --git )/).flatMap((file) => {
    const lines = file.split('\n')
    const start = lines.findIndex((l) => l.startsWith('@@'))
    if (start < 0) return [] // a binary file or a mode change: nothing to show
    const next = lines.findIndex((l, i) => i > start && l.startsWith('@@'))
    const hunk = lines.slice(start, next < 0 ? lines.length : next)
    const path = /^\+\+\+ (?:b\/)?(.+)$/m.exec(file)?.[1] ?? '?'
    const changed = lines.slice(start).filter((l) => l.startsWith('+') || l.startsWith('-')).length
    return [{ path, hunk, changed }]
  })
  const parts: string[] = []
  let used = 0
  for (const f of files.sort((a, b) => b.changed - a.changed)) {
    const shown = f.hunk.slice(0, HUNK_LINES + 1) // the @@ line and HUNK_LINES of the hunk
    const part = [`+++ ${f.path}`, ...shown, ...(f.hunk.length > shown.length ? ['…'] : [])].join('\n')
    if (used + part.length > budget) break
    parts.push(part)
    used += part.length + 1
  }
  return parts.join('\n')
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`

/** How the test command went, in words: passed, or failed (how) with its last lines as a block. */
function testOutcome(t: NonNullable<TaskResult['tests']>): string {
  if (t.passed) return `passed in ${seconds(t.ms)}`
  if (t.timedOut) return `stopped after ${seconds(t.ms)} (too slow)`
  return `failed (exit code ${t.exitCode ?? 'none'}) in ${seconds(t.ms)}`
}

function testLines(t: NonNullable<TaskResult['tests']>): Html[] {
  const head = html`Tests: ${bold(testOutcome(t))}`
  return t.passed || !t.tail ? [head] : [html`${head}; the last lines:`, pre(t.tail)]
}

/** The diff part of a patch (without its mail headers), for showing; a follow-up's patch has one mail per commit, shown in order. */
export function diffOf(patch: string): string {
  const mails = patch.split(/^(?=From [0-9a-f]{40} )/m).filter((m) => m.trim())
  return mails
    .map((mail) => {
      const at = mail.indexOf('\ndiff --git ')
      return (at >= 0 ? mail.slice(at + 1) : mail).replace(/\n-- \n[\s\S]*$/, '').trimEnd()
    })
    .join('\n')
}

/** A budget that stopped a task: `scope|period|spent|cap` (the requester's or the agent's before aider ran, or the task's own while it ran). */
function overBudgetText(detail: string | undefined): Html {
  const [scope = '', period = '', spent = '0', cap = '0'] = (detail ?? '').split('|')
  const amounts = `${usd(Number(spent))} of ${usd(Number(cap))}`
  if (scope === 'task') return html`aider was stopped: the task spent ${amounts}, its budget; nothing was kept.`
  const whose = scope === 'agent' ? "the coder's" : 'your'
  const which = period === 'month' ? 'monthly' : 'daily'
  return html`aider did not start: ${amounts} of ${whose} ${which} budget is spent.`
}

/** A branch a detail names, as code, or the words for it when the detail is missing. */
const branch = (detail: string | undefined) => (detail ? code(detail) : html`the target branch`)

/** Why a task failed or was cancelled, in a sentence of Telegram HTML (branches and settings as code), from its stored code. Pure, for tests. */
export function taskErrorText(stored: string | null): Html {
  if (stored === null) return html`no reason was recorded.`
  const parsed = parseTaskError(stored)
  if (!parsed) return html`${stored}` // a row from before codes: already a sentence
  const { code: reason, detail } = parsed
  switch (reason) {
    case 'cancelled_queued':
      return html`Cancelled before it started.`
    case 'cancelled_running':
      return html`Cancelled while it ran; nothing was kept.`
    case 'discarded':
      return detail ? html`Discarded, and ${code(detail)} deleted from the remote.` : html`Discarded; nothing was pushed.`
    case 'no_change_to_push':
      return html`The task has no change to push.`
    case 'repo_conflict':
      return html`The change conflicts with ${branch(detail)} on the remote, so nothing was pushed. Ask again to redo it on the current code.`
    case 'repo_auth':
      return html`The remote refused the credentials; check ${code('GIT_ACCESS_TOKEN')}. Nothing was pushed.`
    case 'repo_remote':
      return html`The remote repository could not be reached; check ${code('GIT_REMOTE_URL')} and try again.`
    case 'repo_rejected':
      return html`The remote kept rejecting the push to ${branch(detail)}; nothing was forced. Try again.`
    case 'repo_state':
      return html`A git step failed (${detail ?? 'no detail'}).`
    case 'aider_start':
      return html`aider could not be started on the server (check ${code('AIDER_BIN')}).`
    case 'secret_in_change':
      return html`The change contains one of the service's secrets (a token or key), so it was not kept, shown or pushed.`
    case 'sandbox_unavailable':
      return html`The sandbox aider runs in is not available on the server, so nothing ran; an admin can see why in ${code('/status')}.`
    case 'aider_timeout':
      return html`aider did not finish within ${detail ?? '?'} s and was stopped; nothing was kept.`
    case 'aider_failed':
      return html`aider failed (exit code ${detail ?? 'none'}) without changing anything.`
    case 'too_large':
      return html`The change is too large to review from Telegram (${detail ?? '?'} kB); nothing was kept.`
    case 'stopped_running':
      return html`Mechanic stopped while the task ran; nothing was pushed.`
    case 'stopped_pushing':
      return html`Mechanic stopped while pushing; check the remote before trying again.`
    case 'stopped_discarding':
      return html`Mechanic stopped while discarding the change.`
    case 'pr_auth':
      return html`GitHub refused the token in ${code('GIT_ACCESS_TOKEN')}, so no pull request was opened.`
    case 'pr_refused':
      return html`GitHub did not open the pull request: ${detail ?? 'no reason given'}.`
    case 'pr_unavailable':
      return html`GitHub could not be reached to open the pull request.`
    case 'pr_off':
      return html`Pull requests are no longer set up on this service, so nothing was pushed. Ask again to push the change instead.`
    case 'repo_unknown':
      return html`The repository ${code(detail ?? '?')} was removed, so the task could not go on.`
    case 'superseded':
      return html`Continued by the follow-up ${code(detail ?? '?')}.`
    case 'over_budget':
      return overBudgetText(detail)
    case 'unexpected':
      return html`The task failed unexpectedly; the details are in the service log.`
  }
}

/**
 * The pull request a task opens: a title from the request, and a body (Markdown, read on GitHub) with
 * the approved plan, the files and counts, aider's explanation and who approved it. Pure, for tests.
 */
export function pullRequestText(task: Pick<TaskRow, 'id' | 'input' | 'result'>): { title: string; body: string } {
  const r = task.result ?? {}
  const request = task.input.instructions.replace(/\s+/g, ' ').trim()
  const title = request.length > 72 ? `${request.slice(0, 71)}…` : request || `Mechanic task ${task.id}`
  // A fence longer than any run of tildes in what it holds, so nothing inside can close it.
  const fenced = (text: string) => {
    const fence = '~'.repeat(Math.max(3, ...[...text.matchAll(/~+/g)].map((m) => m[0].length + 1)))
    return [fence, text, fence]
  }
  const body = [
    `Opened by Mechanic for task \`${task.id}\`${r.approvedBy ? `, approved in Telegram by ${r.approvedBy}` : ''}.`,
    '',
    '### The approved plan',
    ...fenced(task.input.instructions),
    '',
    `### Changes: ${(r.files ?? []).length} file(s), +${r.added ?? 0} −${r.removed ?? 0}`,
    ...(r.files ?? []).slice(0, 50).map((f) => `- \`${f.path}\` (+${f.added} −${f.removed})`),
    ...(r.explanation ? ['', '### What aider said', ...fenced(r.explanation)] : []),
    ...(r.tests ? ['', `### Tests: ${testOutcome(r.tests)}`, ...(r.tests.passed || !r.tests.tail ? [] : fenced(r.tests.tail))] : []),
  ].join('\n')
  return { title, body: body.slice(0, 60_000) }
}

/** GitHub did not open a task's pull request: why, and what the buttons below do. Pure, for tests. */
export function pullRequestRefusedText(task: Pick<TaskRow, 'id' | 'error' | 'result'>): Html {
  const pushed = task.result?.pushedTo
  return html`Task ${code(task.id)}: ${taskErrorText(task.error)} ${pushed ? html`The branch ${code(pushed)} is pushed; ` : ''}${bold('Open PR')} tries again, ${bold('Discard')} drops the change.`
}

/** What the person reads when a task ends, as Telegram HTML: the id and branch as code, the outcome in bold. Pure, for tests. */
export function endText(task: Pick<TaskRow, 'id' | 'status' | 'result' | 'error'> & { input?: Pick<TaskRow['input'], 'continues'> }): Html {
  const r = task.result ?? {}
  const id = code(task.id)
  if (task.status === 'completed' && r.pullRequest) return html`Task ${id}: ${bold(`pull request #${r.pullRequest.number}`)} opened from ${code(r.pushedTo ?? '?')}: ${r.pullRequest.url}`
  if (task.status === 'completed' && r.pushedTo) return html`Task ${id}: ${bold('pushed')} to ${code(r.pushedTo)} (${code(r.pushedSha?.slice(0, 10) ?? '?')}).`
  if (task.status === 'completed') return html`Task ${id} finished, but aider ${bold('changed nothing')}.${r.explanation ? html`\n\naider: ${r.explanation}` : ''}`
  const word = task.status === 'failed' ? 'failed' : 'was cancelled'
  // A follow-up that failed keeps the change it continued: another reply goes on from there.
  const over = /^(discarded|superseded)/.test(task.error ?? '')
  const kept = task.input?.continues && !over ? html` The change it continued is kept: reply to this message to go on from it.` : ''
  return html`Task ${id} ${bold(word)}: ${taskErrorText(task.error)}${kept}`
}
