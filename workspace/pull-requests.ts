import { Octokit } from '@octokit/rest'
import { KindedError } from '../domain/failure.ts'

/** What went wrong opening a pull request: the token (`auth`), GitHub saying no (`refused`), or GitHub unreachable. */
export type PullRequestFailure = 'auth' | 'refused' | 'unavailable'

/** A pull request could not be opened; the message is GitHub's own reason, cut short (it holds no secret). */
export class PullRequestError extends KindedError<PullRequestFailure> {
  override name = 'PullRequestError'
}

export interface PullRequestSettings {
  /** GITHUB_API_URL: https://api.github.com, an Enterprise /api/v3, or the tests' emulator. */
  apiUrl: string
  owner: string
  repo: string
  token: string
}

export interface OpenedPullRequest {
  number: number
  url: string
}

interface GitHubFailure {
  status?: number
  response?: { data?: { message?: unknown; errors?: Array<{ message?: unknown; field?: unknown; code?: unknown }> } }
}

/** GitHub's reason for a refusal, in one line of at most 200 characters. */
function reasonOf(err: GitHubFailure): string {
  const data = err.response?.data
  const text = (v: unknown) => (typeof v === 'string' ? v : '')
  const detail = data?.errors?.map((e) => text(e.message) || `${text(e.field)} ${text(e.code)}`.trim()).find(Boolean)
  const reason = [typeof data?.message === 'string' ? data.message : undefined, detail].filter(Boolean).join(': ')
  return (reason || 'no reason given').replace(/\s+/g, ' ').slice(0, 200)
}

/**
 * Opens pull requests on one GitHub repository through octokit (REST, `POST /repos/{owner}/{repo}/pulls`).
 * Opening one for a head that already has an open pull request returns that one: a step retried after
 * a crash does not fail on its own earlier success.
 */
export class PullRequests {
  readonly #s: PullRequestSettings
  readonly #octokit: Octokit

  constructor(settings: PullRequestSettings) {
    this.#s = settings
    // No retries or throttling plugins: the task step is the retry, and a person is waiting. octokit's
    // own console logging is off: the runner logs a failure once, as a structured line.
    const quiet = () => undefined
    this.#octokit = new Octokit({ auth: settings.token, baseUrl: settings.apiUrl, userAgent: 'mechanic', request: { timeout: 30_000 }, log: { debug: quiet, info: quiet, warn: quiet, error: quiet } })
  }

  async open(pr: { head: string; base: string; title: string; body: string }): Promise<OpenedPullRequest> {
    const { owner, repo } = this.#s
    try {
      const { data } = await this.#octokit.rest.pulls.create({ owner, repo, head: pr.head, base: pr.base, title: pr.title, body: pr.body, maintainer_can_modify: true })
      return { number: data.number, url: data.html_url }
    } catch (err) {
      const failure = err as GitHubFailure
      if (failure.status === 422 && /already exists/i.test(reasonOf(failure))) {
        const { data } = await this.#octokit.rest.pulls.list({ owner, repo, head: `${owner}:${pr.head}`, base: pr.base, state: 'open' }).catch(() => ({ data: [] }))
        if (data[0]) return { number: data[0].number, url: data[0].html_url }
      }
      throw toPullRequestError(failure, err)
    }
  }
}

function toPullRequestError(failure: GitHubFailure, cause: unknown): PullRequestError {
  const status = failure.status
  if (status === 401) return new PullRequestError('auth', 'GitHub refused the token', { cause, status })
  if (status === 403 || status === 404 || status === 422) return new PullRequestError('refused', reasonOf(failure), { cause, status })
  return new PullRequestError('unavailable', status ? `GitHub answered ${status}` : 'GitHub could not be reached', { cause, status })
}
