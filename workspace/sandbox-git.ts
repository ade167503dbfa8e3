import { lstat, mkdir, rename, rm } from 'node:fs/promises'
import { basename, join } from 'node:path'

/** Where a worktree's git state lives: its own directory (`.git/worktrees/<id>`) and the clone's, shared by all worktrees. */
export interface WorktreeGit {
  gitDir: string
  commonDir: string
}

/**
 * git's environment inside a sandbox: no system or global config, and new objects written to
 * `objects` (a scratch folder) with the clone's read-only store as an alternate, so a sandboxed
 * program can stage files without being able to change an object other tasks share.
 */
export function sandboxGitEnv(git: WorktreeGit, objects: string): Record<string, string> {
  return {
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: '/dev/null',
    GIT_OBJECT_DIRECTORY: objects,
    GIT_ALTERNATE_OBJECT_DIRECTORIES: join(git.commonDir, 'objects'),
  }
}

/** Files moved out of a folder for a run and put back afterwards. */
export interface SetAside {
  restore(): Promise<void>
}

/**
 * Moves the files that exist among `paths` into `store` for the length of a run, for when no sandbox
 * can hide them (SANDBOX=off): the program cannot read what is not there. `restore` puts them back,
 * over anything the run wrote in their place.
 */
export async function setAsideFiles(paths: readonly string[], store: string): Promise<SetAside> {
  await mkdir(store, { recursive: true })
  const moved: Array<[string, string]> = []
  for (const path of paths) {
    const exists = await lstat(path).then(() => true, () => false)
    if (!exists) continue
    const kept = join(store, basename(path))
    await rename(path, kept)
    moved.push([path, kept])
  }
  return {
    async restore() {
      for (const [path, kept] of moved) {
        await rm(path, { recursive: true, force: true })
        await rename(kept, path)
      }
    },
  }
}
