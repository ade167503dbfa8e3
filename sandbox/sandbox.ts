import { execFile } from 'node:child_process'
import { resolve } from 'node:path'
import { bwrapArgs, hostView, resolveCommand } from './policy.ts'
import type { HostView, SandboxPolicy } from './policy.ts'

export type { SandboxPolicy } from './policy.ts'

/** `on`: every untrusted program runs in bubblewrap, or not at all. `off`: the operator chose to run them bare. */
export type SandboxMode = 'on' | 'off'

/** What the launcher can do on this machine, for the start line, /status and /health. */
export type SandboxState =
  | { state: 'on'; bwrap: string }
  | { state: 'off' }
  /** Wanted but not possible here: untrusted programs are refused. `reason` is one line. */
  | { state: 'unavailable'; reason: string }

/** The command to spawn: the program wrapped in prlimit and bwrap, or bare when the sandbox is off. */
export interface Launch {
  file: string
  args: string[]
  env: Record<string, string>
  cwd: string
  /** True when the program runs inside bubblewrap. */
  sandboxed: boolean
}

/**
 * Sends `signal` to a launched program's whole process group (every launch is spawned detached, so its
 * pid is its group): inside bwrap, the sandbox goes with it. Returns whether there was a group to signal.
 */
export function killGroup(pid: number, signal: NodeJS.Signals = 'SIGKILL'): boolean {
  try {
    process.kill(-pid, signal)
    return true
  } catch {
    return false // already gone
  }
}

/** The sandbox is wanted but does not work here (SANDBOX=on and bwrap missing or refused): nothing untrusted runs. */
export class SandboxUnavailableError extends Error {
  override name = 'SandboxUnavailableError'
}

/** The program to launch is not there (not at its path, nowhere on its PATH). */
export class ProgramNotFoundError extends Error {
  override name = 'ProgramNotFoundError'
}

export interface SandboxOptions {
  mode: SandboxMode
  /** Paths of the service no implicit bind may show: DATA_DIR, WORKSPACE_DIR, its home, its .env. */
  protect: readonly string[]
  /** Where bwrap and prlimit are looked up (the service's PATH). */
  path: string | undefined
}

const run = (file: string, args: string[], env: Record<string, string>) =>
  new Promise<{ ok: boolean; stderr: string }>((done) => {
    execFile(file, args, { env, timeout: 10_000, cwd: '/' }, (err, _stdout, stderr) => done({ ok: !err, stderr: String(stderr).trim().split('\n')[0] ?? '' }))
  })

/**
 * The one launcher of programs we did not write: aider, a task's test command, stdio MCP servers and
 * the document parser. It turns a policy (binds, environment, limits: data the caller passes) into
 * the command that runs the program inside bubblewrap. `probe()` runs once at start and decides
 * whether the sandbox works here; while it does not, `launch` refuses (unless SANDBOX=off).
 */
export class Sandbox {
  readonly #mode: SandboxMode
  readonly #host: HostView
  readonly #path: string | undefined
  #state: SandboxState

  constructor(options: SandboxOptions) {
    this.#mode = options.mode
    this.#host = hostView(options.protect)
    this.#path = options.path
    this.#state = options.mode === 'off' ? { state: 'off' } : { state: 'unavailable', reason: 'the sandbox has not been checked yet' }
  }

  get state(): SandboxState {
    return this.#state
  }

  /**
   * The protected path of the service (DATA_DIR, WORKSPACE_DIR, its home, its .env) that `path` is or
   * lies inside, symlinks followed; undefined for any other path. For binds an operator writes (an MCP
   * server's `mechanic.paths`): a bind that merely holds a protected path has it covered anyway.
   */
  ownPathOf(path: string): string | undefined {
    const real = this.#host.realpath(resolve(path))
    return this.#host.protect.find((p) => real === p || real.startsWith(p.endsWith('/') ? p : `${p}/`))
  }

  /**
   * Checks that bubblewrap runs here with the arguments every sandbox uses (user namespaces allowed,
   * a PID namespace, /proc): a real sandboxed `true`. Returns the state, also kept for `launch`.
   */
  async probe(): Promise<SandboxState> {
    if (this.#mode === 'off') return (this.#state = { state: 'off' })
    const bwrap = resolveCommand('bwrap', this.#path)
    if (!bwrap) return (this.#state = { state: 'unavailable', reason: 'bubblewrap (bwrap) is not installed' })
    const env = { PATH: '/usr/bin:/bin' }
    const probe = await run(bwrap, [...bwrapArgs({ command: '/bin/true', args: [], cwd: '/', env }, this.#host), '--', '/bin/true'], env)
    this.#state = probe.ok ? { state: 'on', bwrap } : { state: 'unavailable', reason: `bubblewrap cannot create a sandbox here (${probe.stderr.slice(0, 200) || 'it failed'}); the kernel may not allow unprivileged user namespaces` }
    return this.#state
  }

  /**
   * The command that runs `policy`'s program: prlimit (when it has limits), then bwrap with the
   * policy's binds and exactly its environment (bwrap itself gets that environment and no other).
   * Throws SandboxUnavailableError while the sandbox is wanted but does not work.
   */
  launch(policy: SandboxPolicy): Launch {
    const s = this.#state
    if (s.state === 'unavailable') throw new SandboxUnavailableError(`the sandbox is unavailable: ${s.reason}`)
    const command = resolveCommand(policy.command, policy.env.PATH)
    if (!command) throw new ProgramNotFoundError(`${policy.command} was not found`)
    const inner = s.state === 'on'
      ? { file: s.bwrap, args: [...bwrapArgs({ ...policy, command }, this.#host), '--', command, ...policy.args], cwd: '/' }
      : { file: command, args: [...policy.args], cwd: resolve(policy.cwd) }
    const limits = policy.limits
    const prlimit = limits && (limits.addressSpaceBytes || limits.cpuSeconds) ? resolveCommand('prlimit', this.#path) : undefined
    if (limits && (limits.addressSpaceBytes || limits.cpuSeconds) && !prlimit) throw new SandboxUnavailableError('prlimit (util-linux) is not installed; limits cannot be applied')
    const wrapped = prlimit
      ? {
          file: prlimit,
          args: [...(limits?.addressSpaceBytes ? [`--as=${Math.floor(limits.addressSpaceBytes)}`] : []), ...(limits?.cpuSeconds ? [`--cpu=${Math.ceil(limits.cpuSeconds)}`] : []), '--', inner.file, ...inner.args],
        }
      : inner
    return { file: wrapped.file, args: wrapped.args, env: { ...policy.env }, cwd: inner.cwd, sandboxed: s.state === 'on' }
  }
}
