import { existsSync } from 'node:fs'
import { lstat, readdir } from 'node:fs/promises'
import { join } from 'node:path'

/** Bytes under `dir` (files as stored, symlinks not followed); 0 when it does not exist. */
export async function bytesUnder(dir: string): Promise<number> {
  if (!existsSync(dir)) return 0
  let total = 0
  const pending = [dir]
  while (pending.length) {
    const current = pending.pop()!
    for (const entry of await readdir(current, { withFileTypes: true }).catch(() => [])) {
      const path = join(current, entry.name)
      if (entry.isDirectory()) pending.push(path)
      else if (entry.isFile()) total += (await lstat(path).catch(() => undefined))?.blocks ?? 0
    }
  }
  return total * 512 // lstat's blocks are 512-byte units: what the files take on disk
}

/** The coder's disk: the shared clone and the tasks' worktrees now. */
export interface WorkspaceDisk {
  cloneBytes: number
  worktreeBytes: number
  worktrees: number
}

/** The disk of every repository's clone and of the worktrees of the tasks running now, added up. */
export async function workspaceDisk(repositories: Array<{ clone: string; worktrees: string }>): Promise<WorkspaceDisk> {
  const each = await Promise.all(
    repositories.map(async ({ clone, worktrees }) => {
      const trees = existsSync(worktrees) ? await readdir(worktrees) : []
      const [cloneBytes, worktreeBytes] = await Promise.all([bytesUnder(clone), bytesUnder(worktrees)])
      return { cloneBytes, worktreeBytes, worktrees: trees.length }
    }),
  )
  return each.reduce((a, b) => ({ cloneBytes: a.cloneBytes + b.cloneBytes, worktreeBytes: a.worktreeBytes + b.worktreeBytes, worktrees: a.worktrees + b.worktrees }), { cloneBytes: 0, worktreeBytes: 0, worktrees: 0 })
}
