import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { describe, expect, test } from 'vitest'
import { RepoError, Repository } from '../../../workspace/repository.ts'
import { createRemote, git, pushFromElsewhere } from '../../support/git.ts'

function setup(accessToken?: string) {
  const remote = createRemote()
  const dir = join(mkdtempSync(join(tmpdir(), 'mechanic-ws-')), 'repo')
  const repo = new Repository({ remoteUrl: remote.url, dir, accessToken, author: { name: 'Mechanic', email: 'mechanic@example.test' }, path: process.env.PATH })
  return { remote, dir, repo }
}

/** A task branch with one commit of ours, while someone else pushed one to main: [file, content, message] each. */
async function committedWhileRemoteMoved(branch: string, ours: [string, string, string], theirs: [string, string, string]) {
  const setting = setup()
  await setting.repo.prepare()
  git(setting.dir, 'checkout', '-q', '-B', branch)
  writeFileSync(join(setting.dir, ours[0]), ours[1])
  await setting.repo.commitAll(ours[2])
  pushFromElsewhere(setting.remote.bare, { [theirs[0]]: theirs[1] }, theirs[2])
  return setting
}

describe('Repository (real git, a local bare remote)', () => {
  test('clones at first use and starts every task from the remote state, without leftovers', async () => {
    const { remote, dir, repo } = setup()
    const { base, baseSha } = await repo.prepare()
    expect(base).toBe('main')
    expect(readFileSync(join(dir, 'README.md'), 'utf8')).toBe('# Test project\n')
    writeFileSync(join(dir, 'README.md'), 'dirty\n')
    writeFileSync(join(dir, 'leftover.txt'), 'x')
    pushFromElsewhere(remote.bare, { 'NEW.md': 'from elsewhere\n' }, 'moved on')
    const again = await repo.prepare()
    expect(again.baseSha).not.toBe(baseSha)
    expect(readFileSync(join(dir, 'README.md'), 'utf8')).toBe('# Test project\n')
    expect(existsSync(join(dir, 'leftover.txt'))).toBe(false)
    expect(existsSync(join(dir, 'NEW.md'))).toBe(true)
  })

  test('commits a task on its own branch, as configured, and summarises the change', async () => {
    const { dir, repo } = setup()
    const { baseSha } = await repo.prepare()
    git(dir, 'checkout', '-q', '-B', 'mechanic/t1')
    expect(await repo.commitAll('nothing')).toBeUndefined()
    writeFileSync(join(dir, 'NOTES.md'), 'hello\nworld\n')
    writeFileSync(join(dir, 'README.md'), '# Test project\nMore.\n')
    writeFileSync(join(dir, '.aider.chat.history.md'), 'aider leftovers are never committed')
    const sha = await repo.commitAll('mechanic: add notes')
    expect(sha).toMatch(/^[0-9a-f]{40}$/)
    expect(git(dir, 'log', '-1', '--format=%an <%ae> %s')).toBe('Mechanic <mechanic@example.test> mechanic: add notes')
    expect(git(dir, 'rev-parse', '--abbrev-ref', 'HEAD')).toBe('mechanic/t1')
    const changes = await repo.changes(baseSha)
    expect(changes.files).toEqual([{ path: 'NOTES.md', added: 2, removed: 0 }, { path: 'README.md', added: 1, removed: 0 }])
    expect(changes).toMatchObject({ added: 3, removed: 0 })
    expect(changes.diff).toMatch(/\+hello/)
  })

  test('push rebases onto a remote that moved meanwhile, never forces, and lands the commit', async () => {
    const { remote, repo } = await committedWhileRemoteMoved('mechanic/t2', ['NOTES.md', 'hello\n', 'mechanic: notes'], ['OTHER.md', 'meanwhile\n', 'meanwhile'])
    await repo.push('main')
    const log = git(remote.bare, 'log', '--format=%s', 'main')
    expect(log.split('\n')).toEqual(['mechanic: notes', 'meanwhile', 'initial commit'])
  })

  test('a real conflict fails with kind "conflict" and leaves the clone usable', async () => {
    const { remote, dir, repo } = await committedWhileRemoteMoved('mechanic/t3', ['README.md', 'ours\n', 'mechanic: ours'], ['README.md', 'theirs\n', 'theirs'])
    const failure = await repo.push('main').catch((err: unknown) => err)
    expect(failure).toBeInstanceOf(RepoError)
    expect((failure as RepoError).kind).toBe('conflict')
    expect(git(remote.bare, 'log', '-1', '--format=%s', 'main')).toBe('theirs')
    await repo.prepare() // the next task starts cleanly
    expect(readFileSync(join(dir, 'README.md'), 'utf8')).toBe('theirs\n')
  })

  test('a task branch can be pushed as itself, and discarded branches are deleted', async () => {
    const { remote, dir, repo } = setup()
    const { base } = await repo.prepare()
    git(dir, 'checkout', '-q', '-B', 'mechanic/t4')
    writeFileSync(join(dir, 'A.md'), 'a\n')
    await repo.commitAll('mechanic: a')
    await repo.push('mechanic/t4')
    expect(git(remote.bare, 'branch', '--list', 'mechanic/t4')).toMatch(/mechanic\/t4/)
    git(dir, 'checkout', '-q', '-B', 'mechanic/t5')
    await repo.deleteBranch('mechanic/t5', base)
    expect(git(dir, 'branch', '--list', 'mechanic/t5')).toBe('')
  })

  test('the access token never lands in .git/config', async () => {
    const { dir, repo } = setup('ghp_test-token-that-must-not-be-stored')
    await repo.prepare()
    expect(readFileSync(join(dir, '.git', 'config'), 'utf8')).not.toContain('ghp_test-token')
  })

  test('an unreachable remote is a clear error of kind "remote"', async () => {
    const repo = new Repository({ remoteUrl: 'file:///nonexistent/remote.git', dir: join(mkdtempSync(join(tmpdir(), 'ws-')), 'r'), author: { name: 'M', email: 'm@e' }, path: process.env.PATH })
    const failure = await repo.prepare().catch((err: unknown) => err)
    expect(failure).toBeInstanceOf(RepoError)
    expect((failure as RepoError).kind).toBe('remote')
  })
})

describe('our git runs nothing a repository or a sandboxed program planted', () => {
  test('a pre-push hook in the clone is never run by our push, nor a global config that rewrites the remote', async () => {
    const { remote, dir, repo } = setup('ghp_tokenThatAHookWouldSteal0123456789')
    await repo.prepare()
    const marker = join(mkdtempSync(join(tmpdir(), 'mechanic-hook-')), 'HOOK-RAN')
    writeFileSync(join(dir, '.git', 'hooks', 'pre-push'), `#!/bin/sh\nenv > ${marker}\n`, { mode: 0o755 })
    // git's HOME for our commands is the clone's parent: a .gitconfig there would redirect the push.
    writeFileSync(join(dirname(dir), '.gitconfig'), `[url "file:///nowhere/"]\n\tinsteadOf = ${remote.url}\n[core]\n\thooksPath = ${join(dir, '.git', 'hooks')}\n`)
    git(dir, 'checkout', '-q', '-B', 'mechanic/hooked')
    writeFileSync(join(dir, 'HOOKED.md'), 'pushed\n')
    await repo.commitAll('hooked')
    await repo.push('mechanic/hooked')
    expect(existsSync(marker)).toBe(false)
    expect(git(remote.bare, 'show', 'mechanic/hooked:HOOKED.md')).toBe('pushed')
  })

  test("a worktree whose .git file, commondir and MERGE_HEAD were rewritten: reclaimed, committed with one parent, no fsmonitor command run", async () => {
    const { dir, repo } = setup()
    const { baseSha } = await repo.fetchBase()
    const tree = join(dirname(dir), 'worktrees', 'task1')
    await repo.addWorktree(tree, 'mechanic/task1', baseSha)
    const marker = join(mkdtempSync(join(tmpdir(), 'mechanic-fsmonitor-')), 'RAN')
    // What a sandboxed program could write (it has the worktree and its git directory): a git directory
    // of its own with a command in its config...
    const { gitDir } = repo.worktreeGit(tree)
    const evil = join(gitDir, 'evil-git')
    git(tree, 'init', '-q', evil)
    writeFileSync(join(evil, 'config'), `[core]\n\tfsmonitor = touch ${marker}\n\thooksPath = /tmp\n`)
    writeFileSync(join(tree, '.git'), `gitdir: ${evil}\n`)
    // ...and the worktree's own git directory pointed elsewhere, with a merge in progress from another branch.
    writeFileSync(join(gitDir, 'commondir'), `${evil}\n`)
    writeFileSync(join(gitDir, 'MERGE_HEAD'), `${baseSha}\n`)
    writeFileSync(join(tree, 'CHANGE.md'), 'the change\n')
    await repo.reclaimWorktree(tree, 'mechanic/task1')
    const sha = await repo.commitAll('the change', tree)
    expect(sha).toBeDefined()
    expect(existsSync(marker)).toBe(false)
    expect(git(dir, 'rev-list', '--parents', '-n', '1', 'mechanic/task1').split(' ')).toHaveLength(2) // one parent
    expect((await repo.changes(baseSha, tree)).files.map((f) => f.path)).toEqual(['CHANGE.md'])
  })
})

describe('worktrees: tasks side by side on one clone', () => {
  test('two worktrees start from the remote state, change the same file apart, and each patch holds only its own change', async () => {
    const { remote, dir, repo } = setup()
    const root = join(dirname(dir), 'worktrees')
    const { base, baseSha } = await repo.fetchBase()
    expect(base).toBe('main')
    expect(git(remote.bare, 'rev-parse', 'main')).toBe(baseSha)
    const [a, b] = [join(root, 'ta'), join(root, 'tb')]
    await repo.addWorktree(a, 'mechanic/ta', baseSha)
    await repo.addWorktree(b, 'mechanic/tb', baseSha)
    writeFileSync(join(a, 'README.md'), '# Test project\nfrom a\n')
    writeFileSync(join(b, 'README.md'), '# Test project\nfrom b\n')
    writeFileSync(join(b, '.aider.chat.history.md'), 'never committed, in a worktree too')
    const [shaA, shaB] = await Promise.all([repo.commitAll('a', a), repo.commitAll('b', b)])
    expect(shaA).not.toBe(shaB)
    expect(git(a, 'rev-parse', '--abbrev-ref', 'HEAD')).toBe('mechanic/ta')
    expect((await repo.changes(baseSha, b)).files).toEqual([{ path: 'README.md', added: 1, removed: 0 }])
    const patchA = await repo.formatPatch(baseSha, a)
    expect(patchA).toMatch(/\+from a/)
    expect(patchA).not.toMatch(/from b/)
    // The clone's own checkout is untouched by either.
    expect(readFileSync(join(dir, 'README.md'), 'utf8')).toBe('# Test project\n')

    await repo.removeWorktree(a, 'mechanic/ta')
    expect(existsSync(a)).toBe(false)
    expect(git(dir, 'branch', '--list', 'mechanic/ta')).toBe('')
    expect(git(dir, 'worktree', 'list').split('\n')).toHaveLength(2) // the clone and tb
    // A crash leaves tb behind: the next start removes it, its branch with it.
    expect(await repo.cleanWorktrees(root)).toBe(1)
    expect(existsSync(root)).toBe(false)
    expect(git(dir, 'worktree', 'list').split('\n')).toHaveLength(1)
    // The patch still rebuilds the change on the clone for a push.
    await repo.prepare()
    await repo.applyPatch('mechanic/ta', baseSha, patchA)
    expect(readFileSync(join(dir, 'README.md'), 'utf8')).toBe('# Test project\nfrom a\n')
  })
})
