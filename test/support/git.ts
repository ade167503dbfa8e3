import { execFileSync } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const author = ['-c', 'user.name=Test', '-c', 'user.email=test@example.test']

/** Runs git in `cwd` and returns its trimmed output. */
export function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', [...author, ...args], { cwd, encoding: 'utf8' }).trim()
}

/** A bare repository with one commit on main (README.md), to serve as the remote. */
export function createRemote(): { bare: string; url: string } {
  const root = mkdtempSync(join(tmpdir(), 'mechanic-remote-'))
  const bare = join(root, 'remote.git')
  git(root, 'init', '-q', '--bare', '-b', 'main', bare)
  const seed = join(root, 'seed')
  git(root, 'clone', '-q', bare, seed)
  writeFileSync(join(seed, 'README.md'), '# Test project\n')
  git(seed, 'add', '.')
  git(seed, 'commit', '-q', '-m', 'initial commit')
  git(seed, 'push', '-q', 'origin', 'HEAD:main')
  return { bare, url: `file://${bare}` }
}

/** A working clone of `bare` for a test to make its own commits with. */
export function cloneOf(bare: string): string {
  const dir = join(mkdtempSync(join(tmpdir(), 'mechanic-clone-')), 'work')
  git(tmpdir(), 'clone', '-q', bare, dir)
  return dir
}

/** Someone else pushes a commit to main: writes `files` in a fresh clone, commits and pushes. */
export function pushFromElsewhere(bare: string, files: Record<string, string>, message: string): void {
  const other = cloneOf(bare)
  for (const [name, content] of Object.entries(files)) writeFileSync(join(other, name), content)
  git(other, 'add', '--all')
  git(other, 'commit', '-q', '-m', message)
  git(other, 'push', '-q', 'origin', 'HEAD:main')
}

/** The AIDER_BIN to use: CI installs aider-chat and sets it; undefined when this machine has none. */
export const AIDER_BIN = process.env.AIDER_BIN || undefined
