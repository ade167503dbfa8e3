import { tmpdir } from 'node:os'
import { runInGroup } from './process-group.ts'

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
 * setting, not a person's input), with an environment of its own: PATH, a temporary HOME, CI=true and
 * nothing of the service's (no token, no key). The code it runs is the model's; its process group is
 * killed at the timeout or when the task is cancelled. Passed means exit code 0.
 */
export async function runTests(settings: TestSettings, opts: { cwd: string; path: string | undefined; signal?: AbortSignal | undefined }): Promise<TestRun> {
  const result = await runInGroup({
    file: '/bin/sh',
    args: ['-c', settings.command],
    cwd: opts.cwd,
    env: { PATH: opts.path ?? '/usr/local/bin:/usr/bin:/bin', HOME: tmpdir(), CI: 'true', LANG: 'C.UTF-8' },
    timeoutMs: settings.timeoutMs,
    signal: opts.signal,
  })
  const tail = result.output.trimEnd().split('\n').slice(-TAIL_LINES).join('\n').slice(-TAIL_CHARS)
  return { passed: result.exitCode === 0 && !result.timedOut, exitCode: result.exitCode ?? null, timedOut: result.timedOut, tail, ms: result.durationMs }
}
