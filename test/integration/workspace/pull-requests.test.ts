import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { PullRequestError, PullRequests } from '../../../workspace/pull-requests.ts'
import { GitHubEmulator } from '../../support/github-emulator.ts'
import { cloneOf, createRemote, git } from '../../support/git.ts'

const TOKEN = 'ghp_pull_request_token'
let github: GitHubEmulator
let bare: string

function pushBranch(branch: string): void {
  const work = cloneOf(bare)
  writeFileSync(join(work, 'CHANGE.md'), `${branch}\n`)
  git(work, 'add', '.')
  git(work, 'commit', '-q', '-m', branch)
  git(work, 'push', '-q', 'origin', `HEAD:refs/heads/${branch}`)
}

const prs = (token = TOKEN, apiUrl = github.url) => new PullRequests({ apiUrl, owner: 'acme', repo: 'widgets', token })
const pr = (head: string) => ({ head, base: 'main', title: `change ${head}`, body: 'body' })

beforeAll(async () => {
  bare = createRemote().bare
  github = await GitHubEmulator.start()
  github.addRepository('acme/widgets', bare, { token: TOKEN })
})
afterAll(() => github.close())

describe('PullRequests (octokit against the GitHub emulator)', () => {
  test('opens a pull request; opening it again (a retried step) returns the same one', async () => {
    pushBranch('mechanic/one')
    const first = await prs().open(pr('mechanic/one'))
    expect(first).toEqual({ number: 1, url: 'https://github.com/acme/widgets/pull/1' })
    expect(await prs().open(pr('mechanic/one'))).toEqual(first)
    expect(github.pulls).toHaveLength(1)
  })

  test("GitHub's refusals become kinds with its reason: auth, refused; an unreachable API is unavailable", async () => {
    pushBranch('mechanic/two')
    await expect(prs('wrong-token').open(pr('mechanic/two'))).rejects.toMatchObject({ name: 'PullRequestError', kind: 'auth', status: 401 })
    github.refuseNext(403, 'Resource not accessible by personal access token')
    await expect(prs().open(pr('mechanic/two'))).rejects.toMatchObject({ kind: 'refused', status: 403, message: 'Resource not accessible by personal access token' })
    const missing = await prs().open(pr('mechanic/none')).catch((err: unknown) => err)
    expect(missing).toBeInstanceOf(PullRequestError)
    expect(missing).toMatchObject({ kind: 'refused', status: 422, message: 'Validation Failed: head invalid' })
    await expect(prs(TOKEN, 'http://127.0.0.1:9').open(pr('mechanic/two'))).rejects.toMatchObject({ kind: 'unavailable' })
  })
})
