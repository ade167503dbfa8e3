import { audit } from '../db/audit-log.ts'
import type { Pool } from '../db/database.ts'
import * as db from '../db/repositories.ts'
import { GITHUB_REPOSITORY, REPOSITORY_NAME, REPOSITORY_NAME_BODY, remoteHost, remoteUrlProblem, tokenVariableOf } from '../domain/repositories.ts'
import type { Logger } from '../logger.ts'
import { UnknownRepositoryError } from '../workspace/repositories.ts'
import type { RepositorySet } from '../workspace/repositories.ts'
import { RepoError } from '../workspace/repository.ts'

/** One repository as /repos lists it. */
export interface RepositoryListing {
  name: string
  url: string
  configured: boolean
  /** The command run after aider's edit; undefined: none. */
  testCommand: string | undefined
  /** owner/name where its pull requests go; undefined: changes are pushed only. */
  pullRequests: string | undefined
  /** The variable its token would come from, when the host has none set (https and ssh hosts only). */
  missingToken: string | undefined
}

/** Why /repos add refused: a bad name or address, a name in use, or a remote that did not answer. */
export type AddProblem =
  | { problem: 'name' | 'taken' | 'url_format' | 'url_credentials' | 'github' }
  | { problem: 'auth'; tokenVariable: string | undefined }
  | { problem: 'unreachable' }

/** `/code web: …`: a repository's name, a colon, the request. */
const NAMED_REQUEST = new RegExp(`^(${REPOSITORY_NAME_BODY})\\s*:\\s*([\\s\\S]+)$`)

/** Where a /code request goes: a repository (undefined: the configured one, the only one) with the request's words, or a choice to make. */
export type CodeRoute = { repository: string | undefined; request: string } | { choose: string[] }

/**
 * The coder's repositories as people manage them: admins add, remove and set test commands (audited);
 * a chat picks its default; a /code request finds its repository. The clones themselves are the
 * workspace's (RepositorySet).
 */
export class Repositories {
  readonly #pool: Pool
  readonly #set: RepositorySet
  readonly #log: Logger

  constructor(deps: { pool: Pool; set: RepositorySet; log: Logger }) {
    this.#pool = deps.pool
    this.#set = deps.set
    this.#log = deps.log
  }

  async list(): Promise<RepositoryListing[]> {
    return (await this.#set.list()).map(({ name, url, configured, row }) => {
      const host = remoteHost(url)
      const pr = this.#set.pullRequestTarget(url, row?.githubRepository)
      return {
        name,
        url,
        configured,
        testCommand: row?.testCommand ?? (configured ? this.#set.configuredTestCommand : undefined),
        pullRequests: pr && `${pr.owner}/${pr.repo}`,
        missingToken: host && !url.startsWith('ssh://') && !/^[\w.-]+@/.test(url) && !this.#set.tokenFor(url) ? tokenVariableOf(host) : undefined,
      }
    })
  }

  async names(): Promise<string[]> {
    return (await this.#set.list()).map((r) => r.name)
  }

  /**
   * Adds a repository after checking its name, its address (no credentials in it) and that the remote
   * answers with the token it would get (`git ls-remote`). Returns its default branch, or the problem.
   */
  async add(r: { name: string; url: string; githubRepository: string | undefined; by: number }): Promise<{ defaultBranch: string } | AddProblem> {
    if (!REPOSITORY_NAME.test(r.name)) return { problem: 'name' }
    const urlProblem = remoteUrlProblem(r.url)
    if (urlProblem) return { problem: urlProblem === 'credentials' ? 'url_credentials' : 'url_format' }
    if (r.githubRepository !== undefined && !GITHUB_REPOSITORY.test(r.githubRepository)) return { problem: 'github' }
    if ((await this.names()).includes(r.name)) return { problem: 'taken' }
    let defaultBranch: string
    try {
      defaultBranch = await this.#set.probe(r.url)
    } catch (err) {
      if (!(err instanceof RepoError)) throw err
      this.#log.warn({ err, kind: err.kind, repository: r.name }, 'a repository to add did not answer')
      const host = remoteHost(r.url)
      return err.kind === 'auth' ? { problem: 'auth', tokenVariable: host && tokenVariableOf(host) } : { problem: 'unreachable' }
    }
    if (!(await db.addRepository(this.#pool, { name: r.name, url: r.url, githubRepository: r.githubRepository ?? null, addedBy: r.by }))) return { problem: 'taken' }
    await audit(this.#pool, { action: 'repository_added', actorId: r.by, detail: { name: r.name, url: r.url, githubRepository: r.githubRepository } })
    return { defaultBranch }
  }

  /** Removes an added repository and its clone; refused while it has unfinished tasks. */
  async remove(name: string, by: number): Promise<'removed' | 'unknown' | 'configured' | { unfinished: number }> {
    if (name === this.#set.configuredName) return 'configured'
    const unfinished = await db.unfinishedTasks(this.#pool, name)
    if (unfinished) return { unfinished }
    if (!(await db.removeRepository(this.#pool, name))) return 'unknown'
    await this.#set.forget(name)
    await audit(this.#pool, { action: 'repository_removed', actorId: by, detail: { name } })
    return 'removed'
  }

  /** Sets (null: clears) the command a repository's tasks run after aider's edit. */
  async setTestCommand(name: string, command: string | null, by: number): Promise<'set' | 'unknown'> {
    const configured = name === this.#set.configuredName
    if (!(await db.setTestCommand(this.#pool, name, command, by, configured))) return 'unknown'
    await audit(this.#pool, { action: 'repository_tests_set', actorId: by, detail: { name, command } })
    return 'set'
  }

  /** The chat's default repository, if it set one that still exists. */
  async chatDefault(chatId: number, names?: readonly string[]): Promise<string | undefined> {
    const name = await db.chatRepository(this.#pool, chatId)
    return name && (names ?? (await this.names())).includes(name) ? name : undefined
  }

  /** Sets (null: clears) the repository a chat's /code goes to when a request names none. */
  async setChatDefault(chatId: number, name: string | null, by: number): Promise<'set' | 'unknown'> {
    if (name !== null && !(await this.names()).includes(name)) return 'unknown'
    await db.setChatRepository(this.#pool, chatId, name, by)
    await audit(this.#pool, { action: 'chat_repository_set', actorId: by, chatId, detail: { name } })
    return 'set'
  }

  /**
   * Where a /code request goes: `web: …` names a repository; else the chat's default; else the only
   * repository there is. With several and none chosen, the person picks.
   */
  async route(chatId: number, request: string): Promise<CodeRoute> {
    const names = await this.names()
    const named = NAMED_REQUEST.exec(request)
    if (named && names.includes(named[1]!)) return { repository: names.length > 1 ? named[1] : undefined, request: named[2]!.trim() }
    if (names.length === 1) return { repository: undefined, request }
    const chosen = await this.chatDefault(chatId, names)
    return chosen ? { repository: chosen, request } : { choose: names }
  }

  /**
   * The repository a queued task changes: the one named (null for the configured one), else the chat's
   * default, else the configured one. Throws UnknownRepositoryError for a name that is not there.
   */
  async forTask(name: string | undefined, chatId: number): Promise<string | null> {
    const names = await this.names()
    const chosen = name ?? (await this.chatDefault(chatId, names))
    if (chosen === undefined || chosen === this.#set.configuredName) return null
    if (!names.includes(chosen)) throw new UnknownRepositoryError(`there is no repository called ${chosen}`)
    return chosen
  }

  /** Keeps a /code request while its person picks the repository; returns its id for the buttons. */
  park = (chatId: number, userId: number, request: string) => db.parkCodeRequest(this.#pool, { chatId, userId, request })
  parked = (id: string, chatId: number, userId: number) => db.parkedCodeRequest(this.#pool, id, chatId, userId)
  unpark = (id: string) => db.dropCodeRequest(this.#pool, id)
}
