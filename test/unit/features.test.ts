import { describe, expect, test } from 'vitest'
import { codeChangeSchema } from '../../agents/coder.ts'
import { memoryPage } from '../../bot/features/memory.ts'
import { taskLine } from '../../bot/features/tasks.ts'
import { progressText } from '../../bot/tasks/progress.ts'
import { diffOf, summaryText, taskErrorText } from '../../bot/tasks/report.ts'
import { TASK_ERROR_CODES, parseTaskError, taskError } from '../../domain/task-errors.ts'
import { commitMessage, explainAiderOutput, invalidFiles } from '../../workspace/aider-output.ts'

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

  test('files, counts and explanation; the diff inline or pointed to', () => {
    expect(summaryText(task, { inlineDiff: true })).toBe(
      'Task abc is ready for review: 1 file changed, +1 −0\n• NOTES.md (+1 −0)\n\naider: Creating the notes file.\n\n' + diffOf(patch),
    )
    expect(summaryText(task, { inlineDiff: false })).toMatch(/\n\nThe full diff is in task-abc\.diff below\.$/)
  })

  test('many files are listed up to 20', () => {
    const files = Array.from({ length: 25 }, (_, i) => ({ path: `f${i}`, added: 1, removed: 1 }))
    const text = summaryText({ id: 'x', result: { files, added: 25, removed: 25 } }, { inlineDiff: false })
    expect(text).toMatch(/^Task x is ready for review: 25 files changed, \+25 −25/)
    expect(text).toContain('• … and 5 more')
  })
})

describe('task lines and progress', () => {
  const base = { id: 'abc', step: 'code' as const, activity: null, result: null, error: null, input: { instructions: 'add notes', files: [] }, createdAt: new Date(0) }
  test('/tasks says what a task does or did', () => {
    const now = 120_000
    expect(taskLine({ ...base, status: 'running', activity: 'waiting for the repository' }, now)).toBe('abc · running — waiting for the repository · 2 min ago\n  "add notes"')
    expect(taskLine({ ...base, status: 'queued' }, now)).toMatch(/^abc · queued — waiting to start/)
    expect(taskLine({ ...base, status: 'completed', result: { pushedTo: 'main' } }, now)).toMatch(/^abc · completed — pushed to main/)
    expect(taskLine({ ...base, status: 'failed', error: 'boom' }, now)).toMatch(/^abc · failed — boom/)
  })

  test('progress shows the activity and the last lines', () => {
    expect(progressText('abc', { activity: 'running aider', lines: [] })).toBe('Task abc: running aider…')
    expect(progressText('abc', { activity: 'running aider', lines: ['a', 'b'] })).toBe('Task abc: running aider…\n\na\nb')
  })
})

describe('the /memory page', () => {
  const row = (id: number, content: string) => ({ id, content, scope: 'user' as const, ownerId: '1', metadata: {}, createdAt: new Date('2026-11-20T10:00:00Z'), updatedAt: new Date() })
  test('lists memories with a Forget button each and turns pages both ways', () => {
    const { text, keyboard } = memoryPage([row(9, 'my cat is called Tom'), row(8, 'I live in Lisbon')], 12, 1)
    expect(text).toBe('Your memories (12), newest first, page 2 of 3:\n\n#9 my cat is called Tom (2026-11-20)\n#8 I live in Lisbon (2026-11-20)')
    const buttons = keyboard!.inline_keyboard.flat().map((b) => [b.text, (b as { callback_data: string }).callback_data])
    expect(buttons).toEqual([['Forget #9', 'mem:f:9:1'], ['Forget #8', 'mem:f:8:1'], ['‹ Newer', 'mem:p:0'], ['Older ›', 'mem:p:2']])
  })
  test('nothing remembered: a plain sentence, no buttons', () => {
    const empty = memoryPage([], 0, 0)
    expect(empty.text).toMatch(/^I remember nothing about you yet/)
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
      expect(text, code).toMatch(/^[A-Za-z].*[.)]$/)
      expect(text).not.toMatch(/[a-z]+_[a-z_]+(:|$)/) // a sentence, not a code
    }
    expect(taskErrorText(taskError('repo_conflict', 'main'))).toBe('The change conflicts with main on the remote, so nothing was pushed. Ask again to redo it on the current code.')
    expect(taskErrorText(taskError('aider_timeout', 2))).toBe('aider did not finish within 2 s and was stopped; nothing was kept.')
    expect(taskErrorText('An older row already worded.')).toBe('An older row already worded.')
    expect(taskErrorText(null)).toBe('no reason was recorded.')
  })
})
