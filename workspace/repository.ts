import { existsSync } from 'node:fs'
import { appendFile, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { basename, dirname, join } from 'node:path'
import { GitError as SimpleGitError, simpleGit } from 'simple-git'
import type { SimpleGit } from 'simple-git'
import type { WorktreeGit } from './sandbox-git.ts'

export interface RepoSettings {
  remoteUrl: string
  /** HTTPS token; supplied per command, never written to .git/config, argv or logs. */
  accessToken?: string | undefined
  dir: string
  author: { name: string; email: string }
  /** PATH for git (config is the only reader of the environment). */
  path: string | undefined
}

export type GitFailure = 'conflict' | 'rejected' | 'auth' | 'remote' | 'state'

/** A git step failed; `kind` says what a person can do about it. The message never holds the token. */
export class RepoError extends Error {
  override name = 'RepoError'
  readonly kind: GitFailure
  constructor(kind: GitFailure, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.kind = kind
  }
}

export interface FileChange {
  path: string
  added: number
  removed: number
}

export interface ChangeSummary {
  files: FileChange[]
  added: number
  removed: number
  diff: string
}

/** Parses `git diff --numstat` output (binary files count as 0/0). Pure, for tests. */
export function parseNumstat(output: string): FileChange[] {
  return output
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [added = '0', removed = '0', ...path] = line.split('\t')
      return { path: path.join('\t'), added: Number(added) || 0, removed: Number(removed) || 0 }
    })
}

/** Classifies what git said, without repeating it (it may contain URLs). */
export function classifyGitError(message: string): GitFailure {
  if (/CONFLICT|could not apply|Resolve all conflicts/i.test(message)) return 'conflict'
  if (/non-fast-forward|\[rejected\]|fetch first|failed to push some refs/i.test(message)) return 'rejected'
  if (/Authentication failed|could not read Username|403|401|Permission denied/i.test(message)) return 'auth'
  if (/Could not resolve host|unable to access|Connection refused|does not appear to be a git repository|not found/i.test(message)) return 'remote'
  return 'state'
}

const EXCLUDED = '.aider*\n'

/**
 * The service's clone of one remote repository: every task starts from the remote's state on a
 * branch of its own, and its changes are pushed (never forced) after a person approves.
 */
export class Repository {
  readonly #s: RepoSettings

  constructor(settings: RepoSettings) {
    this.#s = settings
  }

  get dir(): string {
    return this.#s.dir
  }

  /**
   * git's environment: the author, and no configuration but the clone's own and ours. No system or
   * global config (a `.gitconfig` with `url.insteadOf` would redirect the authenticated push), no hooks
   * (a `.git/hooks/pre-push` would receive the token), no fsmonitor command. The token reaches git only
   * here, through GIT_CONFIG_* variables. For a task's worktree, its git directories are named
   * explicitly, so nothing a sandboxed program wrote into the worktree (a `.git` file pointing
   * elsewhere) decides which repository or config git uses.
   */
  #env(worktree?: string): Record<string, string> {
    const env: Record<string, string> = {
      PATH: this.#s.path ?? '/usr/local/bin:/usr/bin:/bin',
      HOME: dirname(this.#s.dir),
      GIT_TERMINAL_PROMPT: '0',
      GIT_CONFIG_NOSYSTEM: '1',
      GIT_CONFIG_GLOBAL: '/dev/null',
      GIT_AUTHOR_NAME: this.#s.author.name,
      GIT_AUTHOR_EMAIL: this.#s.author.email,
      GIT_COMMITTER_NAME: this.#s.author.name,
      GIT_COMMITTER_EMAIL: this.#s.author.email,
    }
    if (worktree) {
      const git = this.worktreeGit(worktree)
      Object.assign(env, { GIT_DIR: git.gitDir, GIT_COMMON_DIR: git.commonDir, GIT_WORK_TREE: worktree })
    }
    // No automatic gc: it could repack while another task's worktree writes objects (cleanWorktrees runs it, under the lock).
    const config: Array<[string, string]> = [['gc.auto', '0'], ['core.hooksPath', '/dev/null'], ['core.fsmonitor', 'false'], ['protocol.ext.allow', 'never']]
    if (this.#s.accessToken && this.#s.remoteUrl.startsWith('https://')) {
      const basic = Buffer.from(`x-access-token:${this.#s.accessToken}`).toString('base64')
      config.push(['http.extraHeader', `Authorization: Basic ${basic}`])
    }
    env.GIT_CONFIG_COUNT = String(config.length)
    config.forEach(([key, value], i) => Object.assign(env, { [`GIT_CONFIG_KEY_${i}`]: key, [`GIT_CONFIG_VALUE_${i}`]: value }))
    return env
  }

  #git(baseDir = this.#s.dir): SimpleGit {
    // GIT_CONFIG_COUNT is how the token reaches git without touching .git/config or argv. simple-git
    // guards such variables (and GIT_CONFIG_GLOBAL, core.hooksPath, core.fsmonitor, protocol.*): the values
    // are ours, never a person's input, and they turn those features off; so we allow exactly these.
    const env = this.#env(baseDir === this.#s.dir || baseDir === dirname(this.#s.dir) ? undefined : baseDir)
    return simpleGit({ baseDir, allowEnvironment: Object.keys(env), unsafe: { allowUnsafeConfigEnvCount: true, allowUnsafeConfigPaths: true, allowUnsafeHooksPath: true, allowUnsafeFsMonitor: true, allowUnsafeProtocolOverride: true }, timeout: { block: 120_000 } }).env(env)
  }

  /**
   * The git directories of a worktree of this clone: its own (`.git/worktrees/<name>`, named after the
   * worktree's folder, which is a task id) and the clone's. Computed, never read from the worktree.
   */
  worktreeGit(worktree: string): WorktreeGit {
    const commonDir = join(this.#s.dir, '.git')
    return { gitDir: join(commonDir, 'worktrees', basename(worktree)), commonDir }
  }

  /**
   * Takes a worktree's git state back after a sandboxed program had it: its own git directory is
   * rebuilt from scratch (HEAD on `branch`, a fresh index from that commit; no MERGE_HEAD, no
   * rebase state, no config of its own), and its `.git` file points home again. The work tree's
   * files are left as the program made them: they are the change.
   */
  async reclaimWorktree(worktree: string, branch: string): Promise<void> {
    const { gitDir } = this.worktreeGit(worktree)
    // Everything goes, these files too: the program could have made any of them a symlink to a file of ours.
    for (const entry of await readdir(gitDir)) await rm(join(gitDir, entry), { recursive: true, force: true })
    await writeFile(join(gitDir, 'commondir'), '../..\n')
    await writeFile(join(gitDir, 'gitdir'), `${join(worktree, '.git')}\n`)
    await writeFile(join(gitDir, 'HEAD'), `ref: refs/heads/${branch}\n`)
    await rm(join(worktree, '.git'), { recursive: true, force: true })
    await writeFile(join(worktree, '.git'), `gitdir: ${gitDir}\n`)
    await this.#step('read-tree', () => this.#git(worktree).raw(['read-tree', 'HEAD']))
  }

  async #step<T>(what: string, run: () => Promise<T>): Promise<T> {
    try {
      return await run()
    } catch (err) {
      if (err instanceof RepoError) throw err
      const message = err instanceof SimpleGitError || err instanceof Error ? err.message : String(err)
      const kind = classifyGitError(message)
      throw new RepoError(kind, `git ${what} failed (${kind})`, { cause: err })
    }
  }

  /** The remote's default branch (what origin/HEAD points at), after a fetch. */
  async #defaultBranch(): Promise<string> {
    const head = await this.#git().raw(['symbolic-ref', '--quiet', '--short', 'refs/remotes/origin/HEAD']).catch(() => '')
    return head.trim().replace(/^origin\//, '') || 'main'
  }

  /**
   * Clones at first use, then fetches and resets to the remote's default branch, removing every
   * leftover (untracked files included), so a task never starts on another's changes.
   */
  async prepare(): Promise<{ base: string; baseSha: string }> {
    const fetched = await this.fetchBase()
    const git = this.#git()
    await this.#step('reset', async () => {
      await git.raw(['rebase', '--abort']).catch(() => undefined)
      await git.raw(['checkout', '--force', '-B', fetched.base, `origin/${fetched.base}`])
      await git.raw(['reset', '--hard', `origin/${fetched.base}`])
      await git.raw(['clean', '-ffdx'])
    })
    return fetched
  }

  /**
   * Clones at first use, then fetches: the remote's default branch and the commit a task starts
   * from. Touches no work tree (other tasks' worktrees go on meanwhile); call it under the lock.
   */
  async fetchBase(): Promise<{ base: string; baseSha: string }> {
    await this.#cloneOnce()
    const git = this.#git()
    await this.#step('fetch', () => git.fetch(['--prune', 'origin']))
    await this.#step('remote set-head', () => git.raw(['remote', 'set-head', 'origin', '--auto']))
    const base = await this.#defaultBranch()
    const baseSha = (await this.#step('rev-parse', () => git.revparse([`origin/${base}`]))).trim()
    return { base, baseSha }
  }

  /** A task's own checkout: a worktree at `path` on `branch`, starting at `startSha`. Under the lock. */
  async addWorktree(path: string, branch: string, startSha: string): Promise<void> {
    await mkdir(dirname(path), { recursive: true })
    await this.#step('worktree add', () => this.#git().raw(['worktree', 'add', '--force', '-B', branch, path, startSha]))
    // Everything later names the worktree's git directory by its folder's name: make sure git chose that one.
    if (!existsSync(join(this.worktreeGit(path).gitDir, 'HEAD'))) throw new RepoError('state', `git named the worktree's directory other than ${basename(path)}`)
  }

  /** Removes a task's worktree and its local branch (the change lives on as a patch). Under the lock. */
  async removeWorktree(path: string, branch: string): Promise<void> {
    const git = this.#git()
    await git.raw(['worktree', 'remove', '--force', path]).catch(() => undefined)
    await rm(path, { recursive: true, force: true })
    await git.raw(['worktree', 'prune']).catch(() => undefined)
    await git.raw(['branch', '-D', branch]).catch(() => undefined)
  }

  /**
   * Removes every worktree under `root` (a crash leaves them behind: nothing runs in them at start)
   * with their task branches, and lets git pack what piled up. Under the lock. Returns how many went.
   */
  async cleanWorktrees(root: string): Promise<number> {
    const left = existsSync(root) ? await readdir(root) : []
    if (!existsSync(join(this.#s.dir, '.git'))) return left.length
    const git = this.#git()
    for (const name of left) await git.raw(['worktree', 'remove', '--force', join(root, name)]).catch(() => undefined)
    await rm(root, { recursive: true, force: true })
    await git.raw(['worktree', 'prune']).catch(() => undefined)
    // gc.auto is 0 for every other command; here git's own threshold applies again.
    await git.raw(['-c', 'gc.auto=6700', 'gc', '--auto', '--quiet']).catch(() => undefined)
    return left.length
  }

  async #cloneOnce(): Promise<void> {
    const { dir, remoteUrl } = this.#s
    if (existsSync(join(dir, '.git'))) return
    await mkdir(dirname(dir), { recursive: true })
    await this.#step('clone', () => this.#git(dirname(dir)).clone(remoteUrl, dir))
    await appendFile(join(dir, '.git', 'info', 'exclude'), EXCLUDED)
  }

  /** Commits everything in the work tree (the clone's, or a worktree's at `dir`); undefined when nothing changed. */
  async commitAll(message: string, dir = this.#s.dir): Promise<string | undefined> {
    const git = this.#git(dir)
    await this.#step('add', () => git.raw(['add', '--all']))
    const staged = await git.raw(['diff', '--cached', '--name-only'])
    if (!staged.trim()) return undefined
    await this.#step('commit', () => git.commit(message))
    return (await git.revparse(['HEAD'])).trim()
  }

  /** The commit checked out at `dir`. */
  async head(dir = this.#s.dir): Promise<string> {
    return (await this.#step('rev-parse', () => this.#git(dir).revparse(['HEAD']))).trim()
  }

  /** What the branch changed since `baseSha`: files, line counts and the full diff. */
  async changes(baseSha: string, dir = this.#s.dir): Promise<ChangeSummary> {
    const git = this.#git(dir)
    const files = parseNumstat(await git.raw(['diff', '--numstat', `${baseSha}..HEAD`]))
    const diff = await git.raw(['diff', `${baseSha}..HEAD`])
    return { files, added: files.reduce((n, f) => n + f.added, 0), removed: files.reduce((n, f) => n + f.removed, 0), diff }
  }

  /**
   * Pushes the current branch to `target` on the remote: fetch, rebase onto the remote's `target`
   * when it exists, push without force; a rejection (someone pushed meanwhile) is retried. A real
   * conflict aborts the rebase and fails with kind 'conflict'.
   */
  async push(target: string, attempts = 3): Promise<string> {
    const git = this.#git()
    for (let attempt = 1; ; attempt++) {
      await this.#step('fetch', () => git.fetch(['origin']))
      const remoteHas = (await git.raw(['ls-remote', '--heads', 'origin', target]).catch(() => '')).trim().length > 0
      if (remoteHas) {
        try {
          await git.raw(['rebase', `origin/${target}`])
        } catch (err) {
          await git.raw(['rebase', '--abort']).catch(() => undefined)
          throw new RepoError('conflict', `the changes conflict with ${target} on the remote`, { cause: err })
        }
      }
      try {
        await git.raw(['push', 'origin', `HEAD:refs/heads/${target}`])
        return (await git.revparse(['HEAD'])).trim()
      } catch (err) {
        const kind = classifyGitError(err instanceof Error ? err.message : String(err))
        if (kind !== 'rejected' || attempt >= attempts) throw new RepoError(kind, `git push failed (${kind})`, { cause: err })
      }
    }
  }

  /** The branch's commits since `baseSha` as one mailbox patch (what `applyPatch` takes back). */
  async formatPatch(baseSha: string, dir = this.#s.dir): Promise<string> {
    return this.#step('format-patch', () => this.#git(dir).raw(['format-patch', '--stdout', '--no-signature', `${baseSha}..HEAD`]))
  }

  /**
   * Rebuilds a task's branch from its patch: on `baseSha` when the remote still has it, else on the
   * current HEAD. A patch that no longer applies fails with kind 'conflict'.
   */
  async applyPatch(branch: string, baseSha: string, patch: string): Promise<void> {
    const git = this.#git()
    const known = await git.raw(['cat-file', '-e', `${baseSha}^{commit}`]).then(() => true, () => false)
    await this.#step('checkout', () => git.raw(['checkout', '--force', '-B', branch, ...(known ? [baseSha] : [])]))
    await this.applyPatchIn(this.#s.dir, patch)
  }

  /** Applies a change's patch as commits on what is checked out at `dir` (a worktree); kind 'conflict' when it does not apply. */
  async applyPatchIn(dir: string, patch: string): Promise<void> {
    const git = this.#git(dir)
    const tmp = await mkdtemp(join(tmpdir(), 'mechanic-patch-'))
    try {
      await writeFile(join(tmp, 'change.patch'), patch)
      await git.raw(['am', '--3way', '--keep-cr', join(tmp, 'change.patch')])
    } catch (err) {
      await git.raw(['am', '--abort']).catch(() => undefined)
      throw new RepoError('conflict', 'the change no longer applies to the repository', { cause: err })
    } finally {
      await rm(tmp, { recursive: true, force: true })
    }
  }

  /** Asks the remote for its default branch without cloning (`ls-remote --symref`): proves the address and the token work. */
  async defaultBranchOf(): Promise<string> {
    await mkdir(dirname(this.#s.dir), { recursive: true })
    const out = await this.#step('ls-remote', () => this.#git(dirname(this.#s.dir)).raw(['ls-remote', '--symref', '--', this.#s.remoteUrl, 'HEAD']))
    return /^ref: refs\/heads\/(\S+)\s+HEAD/m.exec(out)?.[1] ?? 'main'
  }

  /** Deletes a branch of ours on the remote (a pushed task branch whose change was discarded); absent is fine. */
  async deleteRemoteBranch(branch: string): Promise<void> {
    const git = this.#git()
    const there = (await git.raw(['ls-remote', '--heads', 'origin', branch]).catch(() => '')).trim().length > 0
    if (there) await this.#step('push --delete', () => git.raw(['push', 'origin', '--delete', branch]))
  }

  /** Deletes a task's local branch (its changes were discarded). */
  async deleteBranch(branch: string, base: string): Promise<void> {
    const git = this.#git()
    const exists = (await git.raw(['branch', '--list', branch]).catch(() => '')).trim().length > 0
    if (!exists) return
    await this.#step('branch delete', async () => {
      await git.raw(['checkout', '--force', base])
      await git.raw(['branch', '-D', branch])
    })
  }
}
