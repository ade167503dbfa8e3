import { describe, expect, test } from 'vitest'
import { codeChangeSchema } from '../../agents/coder.ts'
import { memoryPage } from '../../bot/features/memory.ts'
import { taskLine } from '../../bot/features/tasks.ts'
import { progressText } from '../../bot/tasks/progress.ts'
import { INLINE_DIFF_CHARS, diffExcerpt, diffOf, endText, pullRequestRefusedText, pullRequestText, summaryText, taskErrorText } from '../../bot/tasks/report.ts'
import { TASK_ERROR_CODES, parseTaskError, taskError } from '../../domain/task-errors.ts'
import { commitMessage, explainAiderOutput, invalidFiles } from '../../workspace/aider-output.ts'
import { parseTelegramHtml } from '../support/telegram-html.ts'
import type { TelegramEntity } from '../support/telegram-html.ts'

/** What Telegram shows for our HTML, failing the test when Telegram would refuse it or drop part of it. */
function shown(html: { html: string } | string): { text: string; entities: TelegramEntity[] } {
  const text = typeof html === 'string' ? html : html.html
  const parsed = parseTelegramHtml(text, { strict: true })
  if ('error' in parsed) throw new Error(`${parsed.error}\nin: ${text}`)
  return parsed
}
/** The parts of the shown text that carry an entity of `type`. */
const marked = (html: { html: string }, type: string) => {
  const s = shown(html)
  return s.entities.filter((e) => e.type === type).map((e) => s.text.slice(e.offset, e.offset + e.length))
}

// What aider 0.86.1 printed in a real offline run (whole edit format, --no-pretty).
const REAL_OUTPUT =
  'Analytics have been permanently disabled.\n\nUpdate git name with: git config user.name "Your Name"\nUpdate git email with: git config user.email "you@example.com"\n' +
  'Creating empty file /tmp/repo/NOTES.md\nAider v0.86.1\nModel: openai/test-model with whole edit format\nGit repo: .git with 0 files\nRepo-map: disabled\n' +
  'Added NOTES.md to the chat.\n\nCreating the notes file.\n\n\n\nNOTES.md\n\n```diff\n@@ -0,0 +1 @@\n+hello\n```\n\n\nTokens: 770 sent, 13 received.\nApplied edit to NOTES.md\n'

describe('explainAiderOutput', () => {
  test("keeps the model's prose, drops aider's banner, bookkeeping, file names and edits", () => {
    expect(explainAiderOutput(REAL_OUTPUT)).toBe('Creating the notes file.')
  })

  test('joins several prose lines and bounds the length', () => {
    expect(explainAiderOutput('First line.\nSecond line.\n')).toBe('First line. Second line.')
    const long = explainAiderOutput(`${'word '.repeat(300)}\n`)
    expect(long.length).toBe(600)
    expect(long.endsWith('…')).toBe(true)
  })

  test('nothing said: empty', () => {
    expect(explainAiderOutput('Aider v0.86.1\nTokens: 1 sent\n')).toBe('')
  })
})

describe('commitMessage', () => {
  test('subject from the first line (bounded), body with the instructions, task trailer', () => {
    expect(commitMessage('abc', 'add a NOTES.md saying hello')).toBe('add a NOTES.md saying hello\n\nadd a NOTES.md saying hello\n\nMechanic-Task: abc\n')
    const subject = commitMessage('abc', 'x'.repeat(100)).split('\n')[0]!
    expect(subject.length).toBe(68)
  })
})

describe('files an agent names for aider', () => {
  test.each([
    [['src/a.ts', 'README.md'], undefined],
    [['/etc/passwd'], 'must be a path relative'],
    [['--yes'], 'must be a path relative'],
    [['a/../../b'], 'outside the repository'],
    [['.git/config'], 'outside the repository'],
    [Array.from({ length: 21 }, (_, i) => `f${i}`), 'at most 20'],
  ])('%j → %s', (files, problem) => {
    const found = invalidFiles(files)
    if (problem === undefined) expect(found).toBeUndefined()
    else expect(found).toContain(problem)
  })

  test('the tool schema rejects them, so the model gets the reason and nothing runs', () => {
    expect(codeChangeSchema.safeParse({ instructions: 'do it', files: ['../x'] }).success).toBe(false)
    expect(codeChangeSchema.safeParse({ instructions: 'do it', files: ['x.md'] }).success).toBe(true)
    expect(codeChangeSchema.safeParse({ instructions: ' ' }).success).toBe(false)
  })
})

const patch = [
  'From 1234 Mon Sep 17 00:00:00 2001',
  'From: Mechanic <m@example.test>',
  'Subject: [PATCH] add notes',
  '',
  '---',
  ' NOTES.md | 1 +',
  '',
  'diff --git a/NOTES.md b/NOTES.md',
  'new file mode 100644',
  '--- /dev/null',
  '+++ b/NOTES.md',
  '@@ -0,0 +1 @@',
  '+hello',
  '-- ',
  '2.39.5',
  '',
].join('\n')

describe('the review summary', () => {
  const task = { id: 'abc', result: { files: [{ path: 'NOTES.md', added: 1, removed: 0 }], added: 1, removed: 0, explanation: 'Creating the notes file.', patch } }

  test('the diff without mail headers or signature', () => {
    expect(diffOf(patch)).toBe('diff --git a/NOTES.md b/NOTES.md\nnew file mode 100644\n--- /dev/null\n+++ b/NOTES.md\n@@ -0,0 +1 @@\n+hello')
  })

  test('files, counts and explanation; the diff inline as a diff code block, or pointed to', () => {
    const inline = summaryText(task, { inlineDiff: true })
    expect(inline.html).toBe(
      'Task <code>abc</code> is <b>ready for review</b>: 1 file changed, +1 −0\n• <code>NOTES.md</code> (+1 −0)\n\naider: Creating the notes file.\n\n' +
        `<pre><code class="language-diff">${diffOf(patch)}</code></pre>`,
    )
    expect(shown(inline).text).toBe('Task abc is ready for review: 1 file changed, +1 −0\n• NOTES.md (+1 −0)\n\naider: Creating the notes file.\n\n' + diffOf(patch))
    expect(shown(inline).entities.find((e) => e.type === 'pre')?.language).toBe('diff')
    const pointed = summaryText(task, { inlineDiff: false })
    expect(shown(pointed).text).toMatch(/\n\nThe full diff is in task-abc\.diff below\.$/)
    expect(marked(pointed, 'code')).toEqual(['abc', 'NOTES.md', 'task-abc.diff'])
  })

  test('paths, explanations and diffs are escaped', () => {
    const odd = { id: 'x', result: { files: [{ path: 'a<b>&"c".ts', added: 1, removed: 0 }], explanation: 'Use <b> & "quotes"', patch: 'diff --git a/x b/x\n+if (a < b && c > "d") {}' } }
    const text = summaryText(odd, { inlineDiff: true })
    expect(text.html).toContain('<code>a&lt;b&gt;&amp;&quot;c&quot;.ts</code>')
    expect(shown(text).text).toContain('• a<b>&"c".ts (+1 −0)\n\naider: Use <b> & "quotes"\n\ndiff --git a/x b/x\n+if (a < b && c > "d") {}')
    expect(marked(text, 'bold')).toEqual(['ready for review'])
  })

  test('a diff too long to show whole: the first hunks of the largest files, cut, within the budget, beside the document', () => {
    const file = (path: string, hunks: string[][]) =>
      [`diff --git a/${path} b/${path}`, `--- a/${path}`, `+++ b/${path}`, ...hunks.flatMap((lines, i) => [`@@ -${i * 50 + 1},3 +${i * 50 + 1},4 @@`, ...lines])].join('\n')
    const small = file('small.ts', [[' keep', '+one line']])
    const big = file('big.ts', [[' ctx', ...Array.from({ length: 30 }, (_, i) => `+added ${i}`)], [' later', '-removed']])
    const binary = 'diff --git a/logo.png b/logo.png\nBinary files differ'
    const diff = [small, binary, big].join('\n')
    const excerpt = diffExcerpt(diff, 1500)
    expect(excerpt.split('\n')).toEqual([
      '+++ big.ts',
      '@@ -1,3 +1,4 @@',
      ' ctx',
      ...Array.from({ length: 11 }, (_, i) => `+added ${i}`),
      '…',
      '+++ small.ts',
      '@@ -1,3 +1,4 @@',
      ' keep',
      '+one line',
    ])
    expect(diffExcerpt(diff, 170)).not.toContain('small.ts') // what does not fit is left to the document
    const many = Array.from({ length: 40 }, (_, i) => file(`f${i}.ts`, [Array.from({ length: 20 }, (_, j) => `+line ${j} of a long file`)])).join('\n')
    expect(diffExcerpt(many, INLINE_DIFF_CHARS).length).toBeLessThanOrEqual(INLINE_DIFF_CHARS)
    const mailed = `From 0000 Mon Sep 17 00:00:00 2001\nSubject: [PATCH] change\n---\n${diff}\n-- \n2.39.5\n` // as git format-patch writes it
    expect(diffOf(mailed)).toBe(diff)
    const text = summaryText({ id: 'q', result: { files: [{ path: 'big.ts', added: 30, removed: 1 }], added: 30, removed: 1, patch: mailed } }, { inlineDiff: false })
    expect(shown(text).text).toContain(`The largest changes:\n${excerpt}\n\nThe full diff is in q.diff below.`.replace('q.diff', 'task-q.diff'))
    expect(shown(text).entities.find((e) => e.type === 'pre')?.language).toBe('diff')
  })

  test('a pull request: the title from the request, the plan fenced so nothing in it breaks out, the files, and who approved', () => {
    const input = { instructions: 'Add a ~~~~ fenced\n\nREADME section about the widgets and their many configuration options, please', files: [] }
    const { title, body } = pullRequestText({ id: 'k3x9', input, result: { files: [{ path: 'README.md', added: 4, removed: 1 }], added: 4, removed: 1, explanation: 'Added it.', approvedBy: 'Ada' } })
    expect(title).toBe('Add a ~~~~ fenced README section about the widgets and their many confi…')
    expect([...title].length).toBe(72)
    expect(body.split('\n')).toEqual([
      'Opened by Mechanic for task `k3x9`, approved in Telegram by Ada.',
      '',
      '### The approved plan',
      '~~~~~', // longer than the run of four inside, which therefore cannot close it
      'Add a ~~~~ fenced',
      '',
      'README section about the widgets and their many configuration options, please',
      '~~~~~',
      '',
      '### Changes: 1 file(s), +4 −1',
      '- `README.md` (+4 −1)',
      '',
      '### What aider said',
      '~~~',
      'Added it.',
      '~~~',
    ])
    expect(pullRequestText({ id: 'k3x9', input: { instructions: '  ', files: [] }, result: {} }).title).toBe('Mechanic task k3x9')
  })

  test('the ending of a pull request, and why GitHub did not open one', () => {
    const opened = endText({ id: 'k3x9', status: 'completed', error: null, result: { pushedTo: 'mechanic/k3x9', pullRequest: { number: 12, url: 'https://github.com/acme/widgets/pull/12' } } })
    expect(shown(opened).text).toBe('Task k3x9: pull request #12 opened from mechanic/k3x9: https://github.com/acme/widgets/pull/12')
    expect(marked(opened, 'bold')).toEqual(['pull request #12'])
    expect(shown(taskErrorText('pr_refused:Validation Failed: A pull request already exists <for> acme:x')).text).toBe('GitHub did not open the pull request: Validation Failed: A pull request already exists <for> acme:x.')
    const refused = pullRequestRefusedText({ id: 'k3x9', error: 'pr_refused:Protected branch', result: { pushedTo: 'mechanic/k3x9' } })
    expect(shown(refused).text).toBe('Task k3x9: GitHub did not open the pull request: Protected branch. The branch mechanic/k3x9 is pushed; Open PR tries again, Discard drops the change.')
    expect(marked(refused, 'bold')).toEqual(['Open PR', 'Discard'])
    expect(shown(taskErrorText('pr_auth')).text).toMatch(/^GitHub refused the token in GIT_ACCESS_TOKEN/)
    expect(shown(taskErrorText('pr_unavailable')).text).toMatch(/^GitHub could not be reached/)
    expect(shown(taskErrorText('pr_off')).text).toMatch(/^Pull requests are no longer set up on this service, so nothing was pushed/)
  })

  test('the test run in the summary and the pull request: passed in a line; failed or too slow with its last lines', () => {
    const files = [{ path: 'a.ts', added: 1, removed: 0 }]
    const passed = { passed: true, exitCode: 0, timedOut: false, tail: '3 passed', ms: 2345 }
    const failed = { passed: false, exitCode: 1, timedOut: false, tail: 'expected <1> to be 2\nFAIL a.test.ts', ms: 1000 }
    const slow = { passed: false, exitCode: null, timedOut: true, tail: '', ms: 300_000 }
    const summary = (tests: typeof passed | typeof slow) => summaryText({ id: 't', result: { files, added: 1, removed: 0, tests } }, { inlineDiff: false })
    expect(shown(summary(passed)).text).toContain('\n\nTests: passed in 2.3 s')
    expect(shown(summary(passed)).text).not.toContain('3 passed')
    expect(shown(summary(failed)).text).toContain('\n\nTests: failed (exit code 1) in 1.0 s; the last lines:\nexpected <1> to be 2\nFAIL a.test.ts')
    expect(summary(failed).html).toContain('<pre>expected &lt;1&gt; to be 2')
    expect(marked(summary(failed), 'bold')).toEqual(['ready for review', 'failed (exit code 1) in 1.0 s'])
    expect(shown(summary(slow)).text).toMatch(/\n\nTests: stopped after 300\.0 s \(too slow\)$/)
    const body = pullRequestText({ id: 't', input: { instructions: 'x', files: [] }, result: { files, tests: failed } }).body
    expect(body).toContain('### Tests: failed (exit code 1) in 1.0 s\n~~~\nexpected <1> to be 2\nFAIL a.test.ts\n~~~')
  })

  test('many files are listed up to 20', () => {
    const files = Array.from({ length: 25 }, (_, i) => ({ path: `f${i}`, added: 1, removed: 1 }))
    const text = shown(summaryText({ id: 'x', result: { files, added: 25, removed: 25 } }, { inlineDiff: false })).text
    expect(text).toMatch(/^Task x is ready for review: 25 files changed, \+25 −25/)
    expect(text).toContain('• … and 5 more')
  })
})

describe('how a task ended', () => {
  const task = { id: 'abc', status: 'completed' as const, result: { pushedTo: 'mechanic/abc', pushedSha: '0123456789abcdef' }, error: null }
  test('pushed: the id, branch and commit as code, the outcome in bold', () => {
    const text = endText(task)
    expect(text.html).toBe('Task <code>abc</code>: <b>pushed</b> to <code>mechanic/abc</code> (<code>0123456789</code>).')
    expect(shown(text).text).toBe('Task abc: pushed to mechanic/abc (0123456789).')
  })

  test('nothing changed, failed, cancelled: the outcome in bold, the reason after it, escaped', () => {
    const nothing = endText({ ...task, result: { explanation: 'No <changes> needed & done.' } })
    expect(shown(nothing).text).toBe('Task abc finished, but aider changed nothing.\n\naider: No <changes> needed & done.')
    expect(marked(nothing, 'bold')).toEqual(['changed nothing'])
    const failed = endText({ ...task, status: 'failed', result: null, error: taskError('repo_conflict', 'main') })
    expect(failed.html).toBe('Task <code>abc</code> <b>failed</b>: The change conflicts with <code>main</code> on the remote, so nothing was pushed. Ask again to redo it on the current code.')
    const cancelled = endText({ ...task, status: 'cancelled', result: null, error: 'An <old> row & more.' })
    expect(shown(cancelled).text).toBe('Task abc was cancelled: An <old> row & more.')
    expect(marked(cancelled, 'bold')).toEqual(['was cancelled'])
  })
})

describe('task lines and progress', () => {
  const base = { id: 'abc', step: 'code' as const, activity: null, result: null, error: null, input: { instructions: 'add notes', files: [] }, createdAt: new Date(0) }
  test('/tasks says what a task does or did: the id as code, the status in bold', () => {
    const now = 120_000
    const line = (extra: object) => taskLine({ ...base, status: 'running', ...extra }, now)
    expect(line({ activity: 'waiting for the repository' }).html).toBe('<code>abc</code> · <b>running</b> — waiting for the repository · 2 min ago\n  "add notes"')
    expect(shown(line({ activity: 'waiting for the repository' })).text).toBe('abc · running — waiting for the repository · 2 min ago\n  "add notes"')
    expect(shown(line({ status: 'queued' })).text).toMatch(/^abc · queued — waiting to start/)
    const pushed = line({ status: 'completed', result: { pushedTo: 'main' } })
    expect(shown(pushed).text).toMatch(/^abc · completed — pushed to main/)
    expect(marked(pushed, 'code')).toEqual(['abc', 'main'])
    expect(shown(line({ status: 'failed', error: 'boom' })).text).toMatch(/^abc · failed — boom/)
  })

  test("a task's request is escaped", () => {
    const text = taskLine({ ...base, status: 'queued', input: { instructions: 'make <b>bold</b> & "quoted"', files: [] } }, 0)
    expect(text.html).toContain('"make &lt;b&gt;bold&lt;/b&gt; &amp; &quot;quoted&quot;"')
    expect(shown(text).text).toMatch(/\n {2}"make <b>bold<\/b> & "quoted""$/)
    expect(marked(text, 'bold')).toEqual(['queued'])
  })

  test("progress shows the id as code, the activity, and aider's last lines as a code block", () => {
    expect(progressText('abc', { activity: 'running aider', lines: [] }).html).toBe('Task <code>abc</code>: running aider…')
    const lines = progressText('abc', { activity: 'running aider', lines: ['a <b>', 'b & c'] })
    expect(lines.html).toBe('Task <code>abc</code>: running aider…\n\n<pre>a &lt;b&gt;\nb &amp; c</pre>')
    expect(shown(lines).text).toBe('Task abc: running aider…\n\na <b>\nb & c')
  })
})

describe('the /memory page', () => {
  const row = (id: number, content: string) => ({ id, content, scope: 'user' as const, ownerId: '1', metadata: {}, createdAt: new Date('2026-11-20T10:00:00Z'), updatedAt: new Date() })
  test('lists memories (ids as code) with a Forget button each and turns pages both ways', () => {
    const { text, keyboard } = memoryPage([row(9, 'my cat is called Tom'), row(8, 'I live in Lisbon')], 12, 1)
    expect(text.html).toBe('Your memories (12), newest first, page 2 of 3:\n\n<code>#9</code> my cat is called Tom (2026-11-20)\n<code>#8</code> I live in Lisbon (2026-11-20)')
    expect(shown(text).text).toBe('Your memories (12), newest first, page 2 of 3:\n\n#9 my cat is called Tom (2026-11-20)\n#8 I live in Lisbon (2026-11-20)')
    const buttons = keyboard!.inline_keyboard.flat().map((b) => [b.text, (b as { callback_data: string }).callback_data])
    expect(buttons).toEqual([['Forget #9', 'mem:f:9:1'], ['Forget #8', 'mem:f:8:1'], ['‹ Newer', 'mem:p:0'], ['Older ›', 'mem:p:2']])
  })
  test('what a memory says is escaped, after it is clipped', () => {
    const { text } = memoryPage([row(3, 'a < b & c, "quoted" <i>x</i>'), row(2, '&'.repeat(300))], 2, 0)
    expect(text.html).toContain('<code>#3</code> a &lt; b &amp; c, &quot;quoted&quot; &lt;i&gt;x&lt;/i&gt; (2026-11-20)')
    expect(shown(text).text).toContain(`#3 a < b & c, "quoted" <i>x</i> (2026-11-20)\n#2 ${'&'.repeat(199)}… (2026-11-20)`)
    expect(marked(text, 'code')).toEqual(['#3', '#2'])
  })
  test('nothing remembered: a plain sentence, no buttons', () => {
    const empty = memoryPage([], 0, 0)
    expect(shown(empty.text).text).toMatch(/^I remember nothing about you yet/)
    expect(empty.keyboard).toBeUndefined()
  })
})

describe('task errors: stored as codes, worded in bot/', () => {
  test('every code a lower layer records reads as one sentence, with its detail', () => {
    expect(TASK_ERROR_CODES.length).toBeGreaterThanOrEqual(17)
    for (const code of TASK_ERROR_CODES) {
      const stored = taskError(code, 'x')
      expect(parseTaskError(stored)?.code).toBe(code)
      const text = taskErrorText(stored)
      const plain = shown(text).text
      expect(plain, code).toMatch(/^[A-Za-z].*[.)]$/)
      expect(plain).not.toMatch(/[a-z]+_[a-z_]+(:|$)/) // a sentence, not a code
    }
    expect(taskErrorText(taskError('repo_conflict', 'main')).html).toBe('The change conflicts with <code>main</code> on the remote, so nothing was pushed. Ask again to redo it on the current code.')
    expect(taskErrorText(taskError('repo_auth')).html).toBe('The remote refused the credentials; check <code>GIT_ACCESS_TOKEN</code>. Nothing was pushed.')
    expect(taskErrorText(taskError('aider_timeout', 2)).html).toBe('aider did not finish within 2 s and was stopped; nothing was kept.')
    expect(taskErrorText('An older row <already> worded & all.').html).toBe('An older row &lt;already&gt; worded &amp; all.')
    expect(taskErrorText(null).html).toBe('no reason was recorded.')
    expect(shown(taskErrorText(taskError('repo_rejected', 'feature/<x>&y'))).text).toBe('The remote kept rejecting the push to feature/<x>&y; nothing was forced. Try again.')
  })
})
