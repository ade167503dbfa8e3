import { describe, expect, test } from 'vitest'
import { aiderArgs, requestText } from '../../workspace/aider.ts'
import { classifyGitError, parseNumstat } from '../../workspace/repository.ts'

describe('parseNumstat', () => {
  test('reads added/removed per file, binary files as zero, tabs in names kept', () => {
    expect(parseNumstat('3\t1\tsrc/a.ts\n-\t-\timg.png\n0\t2\tweird\tname.md\n')).toEqual([
      { path: 'src/a.ts', added: 3, removed: 1 },
      { path: 'img.png', added: 0, removed: 0 },
      { path: 'weird\tname.md', added: 0, removed: 2 },
    ])
  })
})

describe('classifyGitError', () => {
  test.each([
    ['CONFLICT (content): Merge conflict in README.md', 'conflict'],
    [' ! [rejected]        HEAD -> main (fetch first)', 'rejected'],
    ['fatal: Authentication failed for https://example.test/repo.git', 'auth'],
    ["fatal: '/x' does not appear to be a git repository", 'remote'],
    ['fatal: something else', 'state'],
  ])('%s → %s', (message, kind) => {
    expect(classifyGitError(message)).toBe(kind)
  })
})

describe('aiderArgs', () => {
  const files = { message: '/t/request.txt', metadata: '/t/m.json', blank: { config: '/t/c.yml', env: '/t/e.env', modelSettings: '/t/s.yml', ignore: '/t/ignore' }, history: '/t' }
  test('headless, offline-safe, no secrets, settings only from our files, the request in a file, files after --', () => {
    const args = aiderArgs({ model: 'm' }, { files: ['a.md'] }, files)
    for (const flag of ['--yes-always', '--no-pretty', '--no-stream', '--no-check-update', '--no-show-release-notes', '--analytics-disable', '--no-gitignore', '--no-auto-commits', '--no-restore-chat-history']) expect(args).toContain(flag)
    const value = (flag: string) => args[args.indexOf(flag) + 1]
    expect([value('--message-file'), value('--config'), value('--env-file'), value('--model-settings-file'), value('--model-metadata-file'), value('--aiderignore')]).toEqual(['/t/request.txt', '/t/c.yml', '/t/e.env', '/t/s.yml', '/t/m.json', '/t/ignore'])
    expect(args).not.toContain('--message')
    expect(args.slice(-2)).toEqual(['--', 'a.md'])
    expect(args.join(' ')).not.toMatch(/api-key/)
  })

  test.each(['/run id', '!id', '/load x', ' /run id', '\n/run id', '\u200b/run id'])('the request %j never starts with one of aider\'s command characters', (words) => {
    const text = requestText(words)
    expect(text[0]).not.toMatch(/[/!]/)
    expect(text.startsWith('Change request')).toBe(true)
    expect(text).toContain(words)
  })
})
