import { describe, expect, test } from 'vitest'
import { aiderArgs } from '../../workspace/aider.ts'
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
  test('headless, offline-safe, no secrets, files after --', () => {
    const args = aiderArgs({ model: 'm' }, { instructions: '--rm -rf', files: ['a.md'] }, { metadata: '/t/m.json', history: '/t' })
    for (const flag of ['--yes-always', '--no-pretty', '--no-stream', '--no-check-update', '--no-show-release-notes', '--analytics-disable', '--no-gitignore', '--no-auto-commits']) expect(args).toContain(flag)
    expect(args.slice(args.indexOf('--message'), args.indexOf('--message') + 2)).toEqual(['--message', '--rm -rf'])
    expect(args.slice(-2)).toEqual(['--', 'a.md'])
    expect(args.join(' ')).not.toMatch(/api-key/)
  })
})
