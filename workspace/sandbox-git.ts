import { lstat, mkdir, mkdtemp, rename, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { basename, join } from 'node:path'
import type { SandboxPolicy } from '../sandbox/sandbox.ts'

/** Where a worktree's git state lives: its own directory (`.git/worktrees/<id>`) and the clone's, shared by all worktrees. */
export interface WorktreeGit {
  gitDir: string
  commonDir: string
}

/** One sandboxed run in a task's worktree (aider, the test command): its scratch folder, binds and git environment. */
export interface WorktreeRun {
  /** A folder of the run's own (its HOME), writable inside; `done` removes it. */
  scratch: string
  /** The worktree and its own git directory writable, the scratch folder too, the clone's git directory read-only. */
  binds: Pick<SandboxPolicy, 'cwd' | 'writable' | 'readOnly'>
  /**
   * git's environment inside: no system or global config, and new objects written to the scratch
   * folder with the clone's read-only store as an alternate, so the program can stage files without
   * being able to change an object other tasks share.
   */
  gitEnv: Record<string, string>
  done(): Promise<void>
}

/** Makes the scratch folder (named with `prefix`) of one sandboxed run in the worktree at `cwd`. */
export async function worktreeRun(prefix: string, cwd: string, git: WorktreeGit): Promise<WorktreeRun> {
  const scratch = await mkdtemp(join(tmpdir(), prefix))
  const objects = join(scratch, 'objects')
  await mkdir(objects)
  return {
    scratch,
    binds: { cwd, writable: [cwd, scratch, git.gitDir], readOnly: [git.commonDir] },
    gitEnv: {
      GIT_CONFIG_NOSYSTEM: '1',
      GIT_CONFIG_GLOBAL: '/dev/null',
      GIT_OBJECT_DIRECTORY: objects,
      GIT_ALTERNATE_OBJECT_DIRECTORIES: join(git.commonDir, 'objects'),
    },
    done: () => rm(scratch, { recursive: true, force: true }),
  }
}

/** Files moved out of a folder for a run and put back afterwards. */
export interface SetAside {
  restore(): Promise<void>
}

/**
 * Moves the files that exist among `paths` (a symlink as itself) into `store` for the length of a run:
 * the program cannot read what is not there. `restore` puts them back, over anything the run wrote in
 * their place.
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
