import { execFile } from 'node:child_process'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { promisify } from 'node:util'
import { LoopbackServer, sendJson } from './http.ts'

const run = promisify(execFile)

/** A pull request the emulator opened. Set `state` to 'closed' to close it (GitHub's PATCH is not emulated). */
export interface EmulatedPullRequest {
  number: number
  owner: string
  repo: string
  title: string
  body: string
  head: string
  base: string
  draft: boolean
  state: 'open' | 'closed'
  html_url: string
}

/** One request the emulator received. `path` is the request target as sent, query string included. */
export interface GitHubRequest {
  method: string
  path: string
  /** The parsed JSON body; the raw text when it was not JSON; undefined when there was none. */
  body: unknown
  authorization: string | undefined
}

interface Repository {
  owner: string
  name: string
  bare: string
  token: string | undefined
  defaultBranch: string
  nextNumber: number
}

/** What GitHub keeps beside the public record: the parts of its answer a test does not set. */
interface PullDetails {
  id: number
  createdAt: string
  headSha: string
  baseSha: string
  /** The body was not given (GitHub answers null). */
  noBody: boolean
}

const BODY_LIMIT = 1024 * 1024
/** GitHub refuses a pull request (issue) body longer than this. */
const TEXT_LIMIT = 65_536
const DOCS = 'https://docs.github.com/rest'
const CREATE_DOCS = 'https://docs.github.com/rest/pulls/pulls#create-a-pull-request'
const LIST_DOCS = 'https://docs.github.com/rest/pulls/pulls#list-pull-requests'
const JSON_TYPE = 'application/json; charset=utf-8'
const BOT = { login: 'mechanic-bot', id: 4242, node_id: 'U_kgDOAAAQkg', type: 'User', site_admin: false }

type Body = Record<string, unknown>

/**
 * The part of GitHub's REST API that opens pull requests: `POST /repos/{owner}/{repo}/pulls` and
 * `GET /repos/{owner}/{repo}/pulls`, for repositories served from local bare git repositories (so a
 * branch exists when a test pushed it). It refuses what GitHub refuses, with GitHub's statuses and
 * bodies: bad or missing credentials, unknown repositories, heads or bases that are not branches,
 * a second open pull request for one head and base, a head with no commits beyond its base, and a
 * body over 65536 characters. The list's `head` filter needs `owner:branch` and is ignored otherwise,
 * as GitHub ignores it.
 */
export class GitHubEmulator extends LoopbackServer {
  readonly pulls: EmulatedPullRequest[] = []
  readonly requests: GitHubRequest[] = []
  readonly #repos = new Map<string, Repository>()
  readonly #details = new Map<EmulatedPullRequest, PullDetails>()
  #refusal: { status: number; message: string } | undefined
  #nextId = 1_800_000_001
  #nextRequest = 1

  static async start(): Promise<GitHubEmulator> {
    return new GitHubEmulator().start()
  }

  /** The API root, octokit's baseUrl (GITHUB_API_URL). */
  get url(): string {
    return this.origin
  }

  /** Serves `owner/name` from the bare repository at `bare`; `token` is then the one credential it accepts. */
  addRepository(fullName: string, bare: string, opts: { token?: string; defaultBranch?: string } = {}): void {
    const [owner, name, ...rest] = fullName.split('/')
    if (!owner || !name || rest.length) throw new Error(`expected owner/name, got "${fullName}"`)
    this.#repos.set(fullName.toLowerCase(), { owner, name, bare, token: opts.token, defaultBranch: opts.defaultBranch ?? 'main', nextNumber: 1 })
  }

  /** The next POST /pulls (past authentication) is refused with this status and message. */
  refuseNext(status: number, message: string): void {
    this.#refusal = { status, message }
  }

  protected async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const send = (status: number, body: unknown, headers: Record<string, string> = {}) =>
      sendJson(res, status, body, { 'content-type': JSON_TYPE, 'x-github-media-type': 'github.v3; format=json', 'x-github-request-id': `EMU:${this.#nextRequest++}`, ...headers })
    const fail = (status: number, message: string, documentation_url = DOCS, extra: object = {}) =>
      send(status, { message, ...extra, documentation_url, status: String(status) })

    const method = req.method ?? 'GET'
    const target = req.url ?? '/'
    const authorization = req.headers.authorization
    const { text, tooLarge } = await readLimited(req)
    let body: unknown
    let badJson = false
    if (text.trim() !== '') {
      try {
        body = JSON.parse(text)
      } catch {
        body = text
        badJson = true
      }
    }
    this.requests.push({ method, path: target, body: tooLarge ? undefined : body, authorization })
    if (tooLarge) return fail(413, 'Payload Too Large')

    // A token GitHub does not know is refused whatever was asked.
    const token = tokenOf(authorization)
    if (authorization !== undefined && !this.#knownToken(token)) return fail(401, 'Bad credentials')

    const url = new URL(target, 'http://emulator')
    const route = /^\/repos\/([^/]+)\/([^/]+)\/pulls\/?$/.exec(url.pathname)
    if (!route || (method !== 'POST' && method !== 'GET')) return fail(404, 'Not Found')
    const docs = method === 'POST' ? CREATE_DOCS : LIST_DOCS
    if (token === undefined) return fail(401, 'Requires authentication', docs)
    const repo = this.#repos.get(`${decodeURIComponent(route[1]!)}/${decodeURIComponent(route[2]!)}`.toLowerCase())
    // A repository the token may not see is as absent as one that does not exist.
    if (!repo || (repo.token !== undefined && repo.token !== token)) return fail(404, 'Not Found', docs)

    if (method === 'GET') return this.#list(repo, url.searchParams, send)

    if (badJson || (body !== undefined && (typeof body !== 'object' || body === null || Array.isArray(body)))) return fail(400, 'Problems parsing JSON', docs)
    const refusal = this.#refusal
    if (refusal) {
      this.#refusal = undefined
      return fail(refusal.status, refusal.message, docs)
    }
    const outcome = await this.#create(repo, (body ?? {}) as Body)
    if ('pull' in outcome) return send(201, outcome.pull, { location: String(outcome.pull.url) })
    return fail(422, outcome.message, docs, outcome.errors ? { errors: outcome.errors } : {})
  }

  #knownToken(token: string | undefined): boolean {
    if (token === undefined) return false
    return [...this.#repos.values()].some((r) => r.token === undefined || r.token === token)
  }

  async #create(repo: Repository, b: Body): Promise<{ pull: Body } | { message: string; errors?: Body[] }> {
    const missing = ['base', 'head'].filter((k) => b[k] === undefined)
    if (missing.length) {
      const names = missing.map((k) => `"${k}"`).join(', ')
      return { message: `Invalid request.\n\n${names} ${missing.length === 1 ? "wasn't" : "weren't"} supplied.` }
    }
    const types: Array<[string, string]> = [['title', 'string'], ['head', 'string'], ['base', 'string'], ['body', 'string'], ['draft', 'boolean'], ['maintainer_can_modify', 'boolean']]
    for (const [key, type] of types) {
      const value = b[key]
      if (value !== undefined && !(key === 'body' && value === null) && typeof value !== type) {
        return { message: `Invalid request.\n\nFor 'properties/${key}', ${JSON.stringify(value)} is not a ${type}.` }
      }
    }
    const title = (b.title as string | undefined) ?? ''
    const head = b.head as string
    const base = b.base as string
    const text = (b.body as string | null | undefined) ?? ''
    const validation = (...errors: Body[]) => ({ message: 'Validation Failed', errors })
    if (!title.trim()) return validation({ resource: 'PullRequest', code: 'missing_field', field: 'title' })
    if (text.length > TEXT_LIMIT) return validation({ resource: 'Issue', code: 'custom', field: 'body', message: `body is too long (maximum is ${TEXT_LIMIT} characters)` })

    // head is "branch" or "owner:branch"; forks are not emulated, so another owner's branch is no branch.
    const colon = head.indexOf(':')
    const headOwner = colon >= 0 ? head.slice(0, colon) : repo.owner
    const headRef = colon >= 0 ? head.slice(colon + 1) : head
    const [baseSha, headSha] = await Promise.all([branchSha(repo.bare, base), headOwner.toLowerCase() === repo.owner.toLowerCase() ? branchSha(repo.bare, headRef) : undefined])
    const invalid = [...(baseSha ? [] : ['base']), ...(headSha ? [] : ['head'])]
    if (invalid.length || !baseSha || !headSha) return validation(...invalid.map((field) => ({ resource: 'PullRequest', field, code: 'invalid' })))

    const ahead = await commitsBetween(repo.bare, baseSha, headSha)
    const label = `${repo.owner}:${headRef}`
    // No await from here on: two requests for one head cannot both pass the duplicate check.
    if (this.pulls.some((p) => p.state === 'open' && p.owner === repo.owner && p.repo === repo.name && p.head === headRef && p.base === base)) {
      return validation({ resource: 'PullRequest', code: 'custom', message: `A pull request already exists for ${label}.` })
    }
    if (ahead === 0) return validation({ resource: 'PullRequest', code: 'custom', message: `No commits between ${base} and ${head}` })

    const number = repo.nextNumber++
    const pull: EmulatedPullRequest = {
      number, owner: repo.owner, repo: repo.name, title, body: text, head: headRef, base,
      draft: b.draft === true, state: 'open', html_url: `https://github.com/${repo.owner}/${repo.name}/pull/${number}`,
    }
    this.pulls.push(pull)
    this.#details.set(pull, { id: this.#nextId++, createdAt: new Date().toISOString().replace(/\.\d+Z$/, 'Z'), headSha, baseSha, noBody: b.body === undefined || b.body === null })
    return { pull: { ...(await this.#render(repo, pull)), maintainer_can_modify: b.maintainer_can_modify !== false, merged: false, mergeable: null, comments: 0, commits: ahead } }
  }

  async #list(repo: Repository, q: URLSearchParams, send: (status: number, body: unknown, headers?: Record<string, string>) => void): Promise<void> {
    const state = q.get('state') ?? 'open'
    // GitHub filters by head only in the owner:branch form; a bare branch name is ignored.
    const headFilter = q.get('head') ?? ''
    const colon = headFilter.indexOf(':')
    const head = colon >= 0 ? { owner: headFilter.slice(0, colon), ref: headFilter.slice(colon + 1) } : undefined
    const base = q.get('base') ?? undefined
    const ascending = q.get('direction') === 'asc' || (q.get('direction') === null && q.get('sort') !== null && q.get('sort') !== 'created')
    const perPage = Math.min(Math.max(Number(q.get('per_page') ?? 30) || 30, 1), 100)
    const page = Math.max(Number(q.get('page') ?? 1) || 1, 1)
    const matching = this.pulls
      .filter((p) => p.owner === repo.owner && p.repo === repo.name)
      .filter((p) => state === 'all' || p.state === (state === 'closed' ? 'closed' : 'open'))
      .filter((p) => head === undefined || (p.owner.toLowerCase() === head.owner.toLowerCase() && p.head === head.ref))
      .filter((p) => base === undefined || p.base === base)
      .sort((a, b) => (ascending ? a.number - b.number : b.number - a.number))
    const pages = Math.max(Math.ceil(matching.length / perPage), 1)
    const items = await Promise.all(matching.slice((page - 1) * perPage, page * perPage).map((p) => this.#render(repo, p)))
    send(200, items, pages > 1 ? { link: linkHeader(`${this.url}/repos/${repo.owner}/${repo.name}/pulls`, q, page, pages) } : {})
  }

  /** The pull request as GitHub shows it (the "pull request simple" fields), with the branches' current tips. */
  async #render(repo: Repository, p: EmulatedPullRequest): Promise<Body> {
    const d = this.#details.get(p)!
    const [headSha, baseSha] = await Promise.all([branchSha(repo.bare, p.head), branchSha(repo.bare, p.base)])
    const api = `${this.url}/repos/${repo.owner}/${repo.name}`
    const side = (ref: string, sha: string) => ({
      label: `${repo.owner}:${ref}`, ref, sha, user: { login: repo.owner, type: 'User' },
      repo: { name: repo.name, full_name: `${repo.owner}/${repo.name}`, owner: { login: repo.owner, type: 'User' }, private: true, default_branch: repo.defaultBranch, url: api, html_url: `https://github.com/${repo.owner}/${repo.name}` },
    })
    return {
      url: `${api}/pulls/${p.number}`,
      id: d.id,
      node_id: `PR_kwEMU${d.id.toString(36)}`,
      html_url: p.html_url,
      diff_url: `${p.html_url}.diff`,
      patch_url: `${p.html_url}.patch`,
      issue_url: `${api}/issues/${p.number}`,
      number: p.number,
      state: p.state,
      locked: false,
      title: p.title,
      user: BOT,
      body: d.noBody && p.body === '' ? null : p.body,
      created_at: d.createdAt,
      updated_at: d.createdAt,
      closed_at: null,
      merged_at: null,
      draft: p.draft,
      head: side(p.head, headSha ?? d.headSha),
      base: side(p.base, baseSha ?? d.baseSha),
      author_association: 'OWNER',
    }
  }
}

/** The token of an `authorization: token <t>` or `Bearer <t>` header; undefined for none or another scheme. */
function tokenOf(authorization: string | undefined): string | undefined {
  const m = /^(?:token|bearer)\s+(\S+)\s*$/i.exec(authorization ?? '')
  return m?.[1]
}

/** The commit a branch of the bare repository points at, or undefined when there is no such branch. */
async function branchSha(bare: string, branch: string): Promise<string | undefined> {
  try {
    const { stdout } = await run('git', [`--git-dir=${bare}`, 'rev-parse', '--verify', '--quiet', `refs/heads/${branch}^{commit}`])
    return stdout.trim() || undefined
  } catch {
    return undefined
  }
}

/** How many commits `head` has that `base` has not. */
async function commitsBetween(bare: string, base: string, head: string): Promise<number> {
  const { stdout } = await run('git', [`--git-dir=${bare}`, 'rev-list', '--count', `${base}..${head}`])
  return Number(stdout.trim())
}

/** Reads a body of up to 1 MB; past that it keeps draining (so the client sees the answer) but stores nothing. */
async function readLimited(req: IncomingMessage): Promise<{ text: string; tooLarge: boolean }> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req) {
    size += (chunk as Buffer).length
    if (size <= BODY_LIMIT) chunks.push(chunk as Buffer)
  }
  return size > BODY_LIMIT ? { text: '', tooLarge: true } : { text: Buffer.concat(chunks).toString('utf8'), tooLarge: false }
}

function linkHeader(base: string, q: URLSearchParams, page: number, pages: number): string {
  const at = (n: number) => {
    const params = new URLSearchParams(q)
    params.set('page', String(n))
    return `<${base}?${params.toString()}>`
  }
  const links = [
    ...(page > 1 ? [`${at(page - 1)}; rel="prev"`, `${at(1)}; rel="first"`] : []),
    ...(page < pages ? [`${at(page + 1)}; rel="next"`, `${at(pages)}; rel="last"`] : []),
  ]
  return links.join(', ')
}
