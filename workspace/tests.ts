import type { Sandbox } from '../sandbox/sandbox.ts'
import { runInGroup } from './process-group.ts'
import { worktreeRun } from './sandbox-git.ts'
import type { WorktreeGit } from './sandbox-git.ts'

/** A repository's test command (TASK_TEST_COMMAND) and how long it may run. */
export interface TestSettings {
  command: string
  timeoutMs: number
}

export interface TestRun {
  passed: boolean
  exitCode: number | null
  timedOut: boolean
  /** The last lines it printed (at most TAIL_LINES lines and TAIL_CHARS characters). */
  tail: string
  ms: number
}

const TAIL_LINES = 20
const TAIL_CHARS = 1500

/**
 * Runs the test command after aider's edit, in the task's worktree, through `sh -c` (it is an admin's
 * setting, not a person's input), inside the sandbox: the worktree and its own git directory writable,
 * the clone's git directory read-only, a scratch HOME, and an environment of PATH, HOME, CI=true and
 * LANG only (no token, no key). The code it runs is the model's; everything it started is killed at
 * the timeout or when the task is cancelled. Passed means exit code 0.
 */
export async function runTests(settings: TestSettings, opts: { cwd: string; git: WorktreeGit; path: string | undefined; sandbox: Pick<Sandbox, 'launch'>; signal?: AbortSignal | undefined }): Promise<TestRun> {
  const run = await worktreeRun('mechanic-tests-', opts.cwd, opts.git)
  try {
    const launch = opts.sandbox.launch({
      ...run.binds,
      command: '/bin/sh',
      args: ['-c', settings.command],
      env: { PATH: opts.path ?? '/usr/local/bin:/usr/bin:/bin', HOME: run.scratch, CI: 'true', LANG: 'C.UTF-8', ...run.gitEnv },
    })
    const result = await runInGroup({ ...launch, timeoutMs: settings.timeoutMs, signal: opts.signal })
    const tail = result.output.trimEnd().split('\n').slice(-TAIL_LINES).join('\n').slice(-TAIL_CHARS)
    return { passed: result.exitCode === 0 && !result.timedOut, exitCode: result.exitCode ?? null, timedOut: result.timedOut, tail, ms: result.durationMs }
  } finally {
    await run.done()
  }
}
