import { existsSync } from 'node:fs'
import { mkdir, readdir, rm } from 'node:fs/promises'
import { join } from 'node:path'
import type { Pool } from '../db/database.ts'
import { getRepository, listRepositories } from '../db/repositories.ts'
import type { RepositoryRow } from '../db/repositories.ts'
import { githubRepositoryOf, remoteHost, tokenVariableOf } from '../domain/repositories.ts'
import { workspaceDisk } from './disk.ts'
import type { WorkspaceDisk } from './disk.ts'
import { PullRequests } from './pull-requests.ts'
import { Repository } from './repository.ts'
import type { TestSettings } from './tests.ts'

/** The configured repository (GIT_REMOTE_URL and its companions) and what every repository shares. */
export interface WorkspaceSettings {
  /** WORKSPACE_DIR: the configured repository's clone and worktrees, and `repos/<name>/` for added ones. */
  dir: string
  author: { name: string; email: string }
  path: string | undefined
  githubApiUrl: string
  testTimeoutMs: number
  configured: {
    name: string
    url: string
    /** GIT_ACCESS_TOKEN: for the configured repository's host. */
    accessToken: string | undefined
    /** GITHUB_REPOSITORY, when the remote is not a github.com one. */
    githubRepository: string | undefined
    pushBranch: string | undefined
    /** TASK_TEST_COMMAND; /repos test overrides it. */
    testCommand: string | undefined
  }
  /** GIT_TOKEN_<HOST> variables and their tokens. */
  hostTokens: Record<string, string>
}

/** One repository as a task uses it: its clone, its lock, where its worktrees go, and what it offers. */
export interface RepositoryHandle {
  repo: Repository
  /** The git lock's key: the remote, without credentials. */
  lockKey: string
  worktrees: string
  /** Where approved pushes go (GIT_PUSH_BRANCH, the configured repository only); undefined: the task's own branch. */
  pushBranch: string | undefined
  tests: TestSettings | undefined
  pullRequests: PullRequests | undefined
}

/** A task names a repository that is no longer there (removed with /repos remove). */
export class UnknownRepositoryError extends Error {
  override name = 'UnknownRepositoryError'
}

/**
 * The repositories tasks change: the configured one and those admins added (rows in Postgres), each
 * with a clone of its own under the workspace. Tokens come from the environment by host and reach git
 * alone, per command, through GIT_CONFIG_* variables (Repository): never a URL, `.git/config`, the
 * database, or aider's or a test command's environment.
 */
export class RepositorySet {
  readonly #pool: Pool
  readonly #s: WorkspaceSettings
  /** Clones by name and address: a repository removed and added again under another address gets a new one. */
  readonly #repos = new Map<string, Repository>()

  constructor(deps: { pool: Pool; settings: WorkspaceSettings }) {
    this.#pool = deps.pool
    this.#s = deps.settings
  }

  get configuredName(): string {
    return this.#s.configured.name
  }

  /** TASK_TEST_COMMAND: the configured repository's test command unless /repos test set another. */
  get configuredTestCommand(): string | undefined {
    return this.#s.configured.testCommand
  }

  /**
   * The token git and GitHub get for an address: GIT_ACCESS_TOKEN for the configured repository (and
   * its host), else the host's GIT_TOKEN_<HOST>. A local address (a mirror on disk) gets
   * GIT_ACCESS_TOKEN for its pull requests only: git never sends a token to a path.
   */
  tokenFor(url: string): string | undefined {
    const { configured, hostTokens } = this.#s
    if (url === configured.url) return configured.accessToken
    const host = remoteHost(url)
    if (!host) return configured.accessToken
    return hostTokens[tokenVariableOf(host)] ?? (host === remoteHost(configured.url) ? configured.accessToken : undefined)
  }

  /** Where pull requests for an address go: owner/name (given, else from a github.com address) and a token; undefined: none. */
  pullRequestTarget(url: string, githubRepository: string | null | undefined): { owner: string; repo: string; token: string } | undefined {
    const full = githubRepository ?? githubRepositoryOf(url)
    const token = this.tokenFor(url)
    if (!full || !token) return undefined
    const [owner, repo] = full.split('/') as [string, string]
    return { owner, repo, token }
  }

  /** The repository a task changes: by name, null for the configured one. */
  async get(name: string | null): Promise<RepositoryHandle> {
    const c = this.#s.configured
    const configured = name === null || name === c.name
    const row = await getRepository(this.#pool, configured ? c.name : name)
    if (configured) {
      const command = row?.testCommand ?? c.testCommand
      return this.#handle({ name: c.name, url: c.url, github: c.githubRepository, command, configured: true, pushBranch: c.pushBranch })
    }
    if (!row?.url) throw new UnknownRepositoryError(`there is no repository called ${name}`)
    return this.#handle({ name: row.name, url: row.url, github: row.githubRepository ?? undefined, command: row.testCommand ?? undefined, configured: false, pushBranch: undefined })
  }

  /** Every repository's name and address: the configured one first. */
  async list(): Promise<Array<{ name: string; url: string; configured: boolean; row: RepositoryRow | undefined }>> {
    const rows = await listRepositories(this.#pool)
    const c = this.#s.configured
    return [
      { name: c.name, url: c.url, configured: true, row: rows.find((r) => r.name === c.name) },
      ...rows.filter((r): r is RepositoryRow & { url: string } => r.url !== null && r.name !== c.name).map((r) => ({ name: r.name, url: r.url, configured: false, row: r })),
    ]
  }

  /** Checks that an address answers with the token it would get: its default branch, or throws RepoError. */
  async probe(url: string): Promise<string> {
    await mkdir(this.#s.dir, { recursive: true })
    // A Repository of its own, never cached: a repository later added under any name gets its own clone.
    return this.#newRepository(url, join(this.#s.dir, '.probe', 'repo')).defaultBranchOf()
  }

  /**
   * Removes what crashes left (every repository's worktrees) and the clones of repositories no longer
   * there; `withLock` holds the repository's git lock around each. Returns how many worktrees went.
   */
  async clean(withLock: <T>(key: string, work: () => Promise<T>) => Promise<T>): Promise<number> {
    const all = await this.list()
    let removed = 0
    for (const { name } of all) {
      const h = await this.get(name === this.#s.configured.name ? null : name)
      removed += await withLock(h.lockKey, () => h.repo.cleanWorktrees(h.worktrees))
    }
    const added = join(this.#s.dir, 'repos')
    const known = new Set(all.map((r) => r.name))
    for (const dir of existsSync(added) ? await readdir(added) : []) if (!known.has(dir)) await rm(join(added, dir), { recursive: true, force: true })
    return removed
  }

  /** Deletes a removed repository's clone (its lock held by the caller's instance is not needed: no task uses it). */
  async forget(name: string): Promise<void> {
    this.#repos.forEach((_, key) => key.startsWith(`${name}\n`) && this.#repos.delete(key))
    await rm(join(this.#s.dir, 'repos', name), { recursive: true, force: true })
  }

  /** The disk every clone and the running tasks' worktrees take. */
  async disk(): Promise<WorkspaceDisk> {
    const all = await this.list()
    return workspaceDisk(all.map((r) => this.#dirs(r.name, r.configured)))
  }

  #dirs(name: string, configured: boolean): { clone: string; worktrees: string } {
    // The configured repository keeps the places it had before there were several.
    const root = configured ? this.#s.dir : join(this.#s.dir, 'repos', name)
    return { clone: join(root, 'repo'), worktrees: join(root, 'worktrees') }
  }

  #repository(name: string, url: string, clone: string): Repository {
    const key = `${name}\n${url}`
    let repo = this.#repos.get(key)
    if (!repo) {
      repo = this.#newRepository(url, clone)
      this.#repos.set(key, repo)
    }
    return repo
  }

  /** git for `url` with the clone at `dir`; the token only for a remote host (git never sends one to a path). */
  #newRepository(url: string, dir: string): Repository {
    return new Repository({ remoteUrl: url, accessToken: remoteHost(url) ? this.tokenFor(url) : undefined, dir, author: this.#s.author, path: this.#s.path })
  }

  #handle(r: { name: string; url: string; github: string | undefined; command: string | undefined; configured: boolean; pushBranch: string | undefined }): RepositoryHandle {
    const dirs = this.#dirs(r.name, r.configured)
    const target = this.pullRequestTarget(r.url, r.github)
    return {
      repo: this.#repository(r.name, r.url, dirs.clone),
      lockKey: r.url,
      worktrees: dirs.worktrees,
      pushBranch: r.pushBranch,
      tests: r.command ? { command: r.command, timeoutMs: this.#s.testTimeoutMs } : undefined,
      pullRequests: target && new PullRequests({ apiUrl: this.#s.githubApiUrl, ...target }),
    }
  }
}
