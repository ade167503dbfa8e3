import { closeSync, existsSync, lstatSync, openSync, readSync, realpathSync, statSync } from 'node:fs'
import { delimiter, dirname, isAbsolute, join, resolve, sep } from 'node:path'

/**
 * What one untrusted program may see and do: data the caller passes to the launcher. Everything not
 * named here (or by the program's own PATH and command line) is absent inside the sandbox.
 */
export interface SandboxPolicy {
  /** The program: an absolute path, or a name looked up on `env.PATH`. */
  command: string
  args: readonly string[]
  /** Where it starts; must be visible inside (one of the binds below, or /tmp). */
  cwd: string
  /** Its whole environment, and bwrap's: bwrap's own environ is readable inside, so nothing else goes in. */
  env: Record<string, string>
  /** Bound read-write at the same path (the program's own work: a worktree, its scratch folder). */
  writable?: readonly string[] | undefined
  /** Bound read-only at the same path. */
  readOnly?: readonly string[] | undefined
  /** Resource limits, applied with prlimit to the sandbox and all it starts (also when the sandbox is off). */
  limits?: { addressSpaceBytes?: number | undefined; cpuSeconds?: number | undefined } | undefined
}

/** System directories every program gets read-only (each that exists; a merged-/usr symlink stays a symlink). */
const SYSTEM_DIRS = ['/usr', '/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32', '/opt']

/**
 * The parts of /etc a program needs (name resolution, certificates, users, the dynamic linker,
 * alternatives, time zones) and nothing else: not /etc/gitconfig, not /etc/shadow, not an
 * operator's files.
 */
const ETC_FILES = [
  'resolv.conf', 'hosts', 'host.conf', 'nsswitch.conf', 'gai.conf', 'services', 'protocols',
  'ssl', 'ca-certificates', 'ca-certificates.conf', 'pki', 'crypto-policies',
  'passwd', 'group', 'localtime', 'timezone', 'ld.so.cache', 'ld.so.conf', 'ld.so.conf.d',
  'alternatives', 'mime.types', 'os-release', 'debian_version', 'python3', 'python3.11', 'python3.12', 'python3.13',
].map((f) => `/etc/${f}`)

const within = (path: string, root: string) => path === root || path.startsWith(root.endsWith(sep) ? root : root + sep)
const isSystem = (path: string) => SYSTEM_DIRS.some((d) => within(path, d))

function real(path: string): string | undefined {
  try {
    return realpathSync(path)
  } catch {
    return undefined
  }
}

/** The program's absolute path: as given, or found on PATH (undefined when it is nowhere). */
export function resolveCommand(command: string, path: string | undefined): string | undefined {
  if (isAbsolute(command)) return existsSync(command) ? command : undefined
  for (const dir of (path ?? '').split(delimiter).filter((d) => isAbsolute(d))) {
    const candidate = join(dir, command)
    try {
      if (statSync(candidate).isFile()) return candidate
    } catch {
      // not here
    }
  }
  return undefined
}

/**
 * The directory that holds a program's own files: for `node_modules/.bin`, node_modules; for
 * `<prefix>/bin` where the prefix has a `lib` (a virtualenv, a Python or Node install, ~/.local), the
 * prefix whose libraries the program loads; else the directory itself (~/.cargo/bin, not ~/.cargo).
 */
function packageRoot(dir: string): string {
  if (dir.endsWith('/.bin')) return dirname(dir)
  if (dir.endsWith('/bin') && existsSync(join(dirname(dir), 'lib'))) return dirname(dir)
  return dir
}

/** The interpreter a script's `#!` line names (through `/usr/bin/env` too), or undefined. */
function interpreterOf(file: string, path: string | undefined): string | undefined {
  let head: string
  try {
    const fd = openSync(file, 'r')
    try {
      const buf = Buffer.alloc(256)
      head = buf.subarray(0, readSync(fd, buf, 0, 256, 0)).toString('latin1')
    } finally {
      closeSync(fd)
    }
  } catch {
    return undefined
  }
  const line = /^#!\s*(\S+)(?:\s+(\S+))?/.exec(head)
  if (!line) return undefined
  const [, interpreter, first] = line
  return interpreter!.endsWith('/env') && first ? resolveCommand(first, path) : interpreter
}

/** Every `node_modules` folder Node would search from `dir` upwards (how a script finds its packages). */
function nodeModulesAbove(dir: string): string[] {
  const found: string[] = []
  for (let d = dir; ; d = dirname(d)) {
    const candidate = join(d, 'node_modules')
    if (existsSync(candidate)) found.push(candidate)
    if (dirname(d) === d) return found
  }
}

/**
 * What a program needs to read to run at all, beyond the system: the directories on its PATH (as
 * their package roots), its own binary's package (also through a symlink, as in node_modules/.bin),
 * and each absolute path its command line names (a file's folder, and the node_modules above it).
 */
export function programPaths(command: string, args: readonly string[], path: string | undefined): string[] {
  const paths = new Set<string>()
  const add = (p: string | undefined) => {
    if (p && !isSystem(p) && p !== '/') paths.add(p)
  }
  for (const dir of (path ?? '').split(delimiter).filter((d) => isAbsolute(d) && existsSync(d))) add(packageRoot(real(dir) ?? dir))
  const binary = resolveCommand(command, path)
  const named = [binary, binary && interpreterOf(binary, path), ...args.filter((a) => isAbsolute(a))]
  for (const p of named) {
    if (!p || !existsSync(p)) continue
    for (const at of new Set([p, real(p) ?? p])) {
      const dir = statSync(at).isDirectory() ? at : dirname(at)
      add(packageRoot(dir))
      for (const modules of nodeModulesAbove(dir)) add(modules)
    }
  }
  // A path inside another is covered by it.
  const sorted = [...paths].sort((a, b) => a.length - b.length)
  return sorted.filter((p, i) => !sorted.slice(0, i).some((q) => within(p, q)))
}

/** The host's facts the arguments depend on (kept apart so the arguments are a pure function). */
export interface HostView {
  /** Paths of the service that no bind may show (DATA_DIR, WORKSPACE_DIR, its home, its .env), symlinks followed. */
  protect: readonly string[]
  exists(path: string): boolean
  isFile(path: string): boolean
  /** For a symlink, where it leads ('' when nowhere); undefined for anything else. */
  isSymlink(path: string): string | undefined
  /** Where a path really is (symlinks followed), or the path itself when it does not exist. */
  realpath(path: string): string
}

export const hostView = (protect: readonly string[]): HostView => ({
  protect: protect.map((p) => real(resolve(p)) ?? resolve(p)),
  exists: (p) => existsSync(p),
  realpath: (p) => real(p) ?? p,
  isFile: (p) => {
    try {
      return statSync(p).isFile()
    } catch {
      return false
    }
  },
  isSymlink: (p) => {
    try {
      return lstatSync(p).isSymbolicLink() ? (real(p) ?? '') : undefined
    } catch {
      return undefined
    }
  },
})

/**
 * bwrap's arguments for a policy: new user, PID, IPC, UTS and cgroup namespaces (the network is
 * shared: the model may be on loopback), its own /proc, /dev and /tmp, the system read-only, the
 * program's own files read-only, then the policy's own binds; the protected paths of the service
 * are covered by empty folders wherever any of these binds would show them (also through a symlink).
 * The order matters: a later mount covers an earlier one.
 */
export function bwrapArgs(policy: SandboxPolicy, host: HostView): string[] {
  const args = [
    '--unshare-all', '--unshare-user', '--share-net', '--disable-userns',
    '--die-with-parent', '--new-session', '--cap-drop', 'ALL',
    '--proc', '/proc', '--dev', '/dev', '--tmpfs', '/tmp', '--tmpfs', '/var/tmp', '--tmpfs', '/run',
  ]
  for (const dir of SYSTEM_DIRS) {
    if (!host.exists(dir)) continue
    const link = host.isSymlink(dir)
    if (link !== undefined) {
      // /bin -> usr/bin on merged-/usr systems: the same link inside.
      if (link) args.push('--symlink', link, dir)
    } else {
      args.push('--ro-bind', dir, dir)
    }
  }
  for (const file of ETC_FILES) args.push('--ro-bind-try', file, file)
  // A protected path that a bind would show (the bind's real source holds it) is covered where it
  // appears inside, right after that bind: an empty folder, or an empty file.
  const bind = (flag: '--ro-bind' | '--bind', path: string, source = host.realpath(path)) => {
    args.push(flag, path, path)
    for (const p of host.protect) {
      if (!within(p, source) || !host.exists(p)) continue
      const at = path + p.slice(source.length)
      if (host.isFile(p)) args.push('--ro-bind', '/dev/null', at)
      else args.push('--tmpfs', at)
    }
  }
  for (const p of programPaths(policy.command, policy.args, policy.env.PATH)) bind('--ro-bind', p, p)
  for (const p of policy.readOnly ?? []) bind('--ro-bind', p)
  for (const p of policy.writable ?? []) bind('--bind', p)
  args.push('--chdir', policy.cwd)
  return args
}
