import { execa } from 'execa'
import { killGroup } from '../sandbox/sandbox.ts'

/** Output kept of a run: its last characters. */
const OUTPUT_LIMIT = 64 * 1024

export interface GroupRun {
  file: string
  args: readonly string[]
  cwd: string
  /** The whole environment of the process: nothing of ours is inherited. */
  env: Record<string, string>
  timeoutMs: number
  signal?: AbortSignal | undefined
  /** Each line it prints (stdout and stderr together). */
  onLine?: ((line: string) => void) | undefined
  /** Its pid, which is also its process group, once it runs. */
  onStart?: ((pid: number) => void) | undefined
}

export interface GroupResult {
  exitCode: number | undefined
  timedOut: boolean
  cancelled: boolean
  /** The file could not be run at all (not found). */
  notFound: boolean
  /** The last OUTPUT_LIMIT characters it printed. */
  output: string
  durationMs: number
}

/**
 * Runs a program in a process group of its own, with exactly `env`, no stdin, its output read line by
 * line. Past `timeoutMs`, or when `signal` aborts, the whole group is killed (what it started too),
 * and whatever the group left behind when it ends is killed as well.
 */
export async function runInGroup(run: GroupRun): Promise<GroupResult> {
  const started = performance.now()
  let tail = ''
  const child = execa(run.file, [...run.args], {
    cwd: run.cwd,
    env: run.env,
    extendEnv: false,
    stdin: 'ignore',
    all: true,
    buffer: false,
    reject: false,
    detached: true, // its own process group, so a kill reaches everything it started
    timeout: run.timeoutMs,
    killSignal: 'SIGKILL',
    ...(run.signal && { cancelSignal: run.signal }),
  })
  const killAll = () => {
    if (child.pid) killGroup(child.pid)
  }
  // execa's timeout kills the process alone; one it started may hold the output pipe open and keep
  // the loop below waiting, so the whole group is killed on the same deadline.
  const timer = setTimeout(killAll, run.timeoutMs)
  if (child.pid) run.onStart?.(child.pid)
  run.signal?.addEventListener('abort', killAll, { once: true })
  try {
    for await (const line of child.iterable({ from: 'all' })) {
      tail = (tail + String(line) + '\n').slice(-OUTPUT_LIMIT)
      run.onLine?.(String(line))
    }
    const result = await child
    const notFound = result.failed && result.exitCode === undefined && !result.timedOut && !result.isCanceled && result.code === 'ENOENT'
    return { exitCode: result.exitCode, timedOut: result.timedOut, cancelled: result.isCanceled, notFound, output: tail, durationMs: Math.round(performance.now() - started) }
  } finally {
    clearTimeout(timer)
    run.signal?.removeEventListener('abort', killAll)
    killAll() // anything it left behind
  }
}
