import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Octokit } from '@octokit/rest'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { GitHubEmulator } from '../../support/github-emulator.ts'
import { cloneOf, createRemote, git } from '../../support/git.ts'

const TOKEN = 'ghp_emulated_token'
let emulator: GitHubEmulator
let bare: string
let octokit: Octokit
const repo = { owner: 'acme', repo: 'widgets' }
const quiet = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} }
/** The real client, as the service builds it; octokit's own logging of failed requests is silenced. */
const client = (auth?: string) => new Octokit({ baseUrl: emulator.url, log: quiet, ...(auth !== undefined && { auth }) })

/** Pushes `branch` to the bare repository with one commit beyond main (or none). */
function pushBranch(branch: string, opts: { commit?: boolean } = {}): string {
  const work = cloneOf(bare)
  if (opts.commit !== false) {
    writeFileSync(join(work, `${branch.replaceAll('/', '-')}.txt`), `${branch}\n`)
    git(work, 'add', '.')
    git(work, 'commit', '-q', '-m', `work on ${branch}`)
  }
  git(work, 'push', '-q', 'origin', `HEAD:refs/heads/${branch}`)
  return git(work, 'rev-parse', 'HEAD')
}

beforeAll(async () => {
  bare = createRemote().bare
  emulator = await GitHubEmulator.start()
  emulator.addRepository('acme/widgets', bare, { token: TOKEN })
  octokit = client(TOKEN)
})

afterAll(async () => {
  await emulator?.close()
})

describe('GitHubEmulator through octokit', () => {
  test('opens a pull request for a pushed branch: 201 with GitHub fields, recorded', async () => {
    const sha = pushBranch('feature/one')
    const res = await octokit.rest.pulls.create({ ...repo, title: 'Add one', head: 'feature/one', base: 'main', body: 'Why and how', maintainer_can_modify: true })
    expect(res.status).toBe(201)
    expect(res.headers['content-type']).toBe('application/json; charset=utf-8')
    expect(res.data).toMatchObject({
      number: 1,
      state: 'open',
      title: 'Add one',
      body: 'Why and how',
      draft: false,
      html_url: 'https://github.com/acme/widgets/pull/1',
      url: `${emulator.url}/repos/acme/widgets/pulls/1`,
      head: { ref: 'feature/one', sha, label: 'acme:feature/one' },
      base: { ref: 'main', label: 'acme:main' },
      user: { login: 'mechanic-bot' },
    })
    expect(res.data.base.sha).toBe(git(bare, 'rev-parse', 'refs/heads/main'))
    expect(typeof res.data.id).toBe('number')
    expect(Date.parse(res.data.created_at)).not.toBeNaN()
    expect(emulator.pulls).toContainEqual({
      number: 1, owner: 'acme', repo: 'widgets', title: 'Add one', body: 'Why and how', head: 'feature/one', base: 'main', draft: false, state: 'open', html_url: 'https://github.com/acme/widgets/pull/1',
    })
    expect(emulator.requests.at(-1)).toEqual({
      method: 'POST', path: '/repos/acme/widgets/pulls', authorization: `token ${TOKEN}`,
      body: { title: 'Add one', head: 'feature/one', base: 'main', body: 'Why and how', maintainer_can_modify: true },
    })
  })

  test('a second pull request for the same head and base is refused: 422 "already exists"', async () => {
    const err = await octokit.rest.pulls.create({ ...repo, title: 'Again', head: 'acme:feature/one', base: 'main' }).catch((e: unknown) => e)
    expect(err).toMatchObject({
      name: 'HttpError',
      status: 422,
      response: { data: { message: 'Validation Failed', status: '422', errors: [{ resource: 'PullRequest', code: 'custom', message: 'A pull request already exists for acme:feature/one.' }] } },
    })
    expect(emulator.pulls).toHaveLength(1)
  })

  test('a token GitHub does not know gets 401 Bad credentials; none gets 401 too', async () => {
    const wrong = client('ghp_wrong')
    await expect(wrong.rest.pulls.create({ ...repo, title: 't', head: 'feature/one', base: 'main' })).rejects.toMatchObject({
      status: 401,
      response: { data: { message: 'Bad credentials', documentation_url: 'https://docs.github.com/rest', status: '401' } },
    })
    await expect(client().rest.pulls.list(repo)).rejects.toMatchObject({ status: 401 })
    expect(emulator.requests.at(-2)?.authorization).toBe('token ghp_wrong')
  })

  test('a head or base that is not a branch: 422 Validation Failed naming the field', async () => {
    await expect(octokit.rest.pulls.create({ ...repo, title: 't', head: 'no-such-branch', base: 'main' })).rejects.toMatchObject({
      status: 422,
      response: { data: { message: 'Validation Failed', errors: [{ resource: 'PullRequest', field: 'head', code: 'invalid' }] } },
    })
    await expect(octokit.rest.pulls.create({ ...repo, title: 't', head: 'feature/one', base: 'develop' })).rejects.toMatchObject({
      status: 422,
      response: { data: { errors: [{ resource: 'PullRequest', field: 'base', code: 'invalid' }] } },
    })
    // Another owner's branch would be a fork's; there are none.
    await expect(octokit.rest.pulls.create({ ...repo, title: 't', head: 'someone:feature/one', base: 'main' })).rejects.toMatchObject({
      status: 422,
      response: { data: { errors: [{ field: 'head', code: 'invalid' }] } },
    })
  })

  test('a branch with nothing beyond its base: 422 "No commits between"', async () => {
    pushBranch('empty', { commit: false })
    await expect(octokit.rest.pulls.create({ ...repo, title: 't', head: 'empty', base: 'main' })).rejects.toMatchObject({
      status: 422,
      response: { data: { errors: [{ resource: 'PullRequest', code: 'custom', message: 'No commits between main and empty' }] } },
    })
  })

  test('missing fields and a body too long are refused as GitHub refuses them', async () => {
    const post = (data: object) => octokit.request('POST /repos/{owner}/{repo}/pulls', { ...repo, ...data } as never)
    await expect(post({ title: 't' })).rejects.toMatchObject({ status: 422, response: { data: { message: 'Invalid request.\n\n"base", "head" weren\'t supplied.' } } })
    await expect(post({ head: 'feature/one', base: 'main' })).rejects.toMatchObject({ status: 422, response: { data: { message: 'Validation Failed', errors: [{ code: 'missing_field', field: 'title' }] } } })
    await expect(post({ title: 't', head: 'feature/one', base: 'main', draft: 'yes' })).rejects.toMatchObject({ status: 422 })
    pushBranch('long-body')
    await expect(post({ title: 't', head: 'long-body', base: 'main', body: 'x'.repeat(65_537) })).rejects.toMatchObject({
      status: 422,
      response: { data: { errors: [{ field: 'body', message: 'body is too long (maximum is 65536 characters)' }] } },
    })
  })

  test('refuseNext makes the next create fail with that status and message, once', async () => {
    pushBranch('feature/two')
    emulator.refuseNext(403, 'Resource not accessible by personal access token')
    await expect(octokit.rest.pulls.create({ ...repo, title: 'Two', head: 'feature/two', base: 'main' })).rejects.toMatchObject({
      name: 'HttpError',
      status: 403,
      response: { data: { message: 'Resource not accessible by personal access token', documentation_url: 'https://docs.github.com/rest/pulls/pulls#create-a-pull-request' } },
    })
    const res = await octokit.rest.pulls.create({ ...repo, title: 'Two', head: 'feature/two', base: 'main', draft: true })
    expect(res.data).toMatchObject({ number: 2, draft: true, body: null })
  })

  test('lists pull requests by owner:branch head and base; a bare branch name is ignored, as GitHub ignores it', async () => {
    const one = await octokit.rest.pulls.list({ ...repo, state: 'open', head: 'acme:feature/one', base: 'main' })
    expect(one.status).toBe(200)
    expect(one.data.map((p) => [p.number, p.head.ref, p.html_url])).toEqual([[1, 'feature/one', 'https://github.com/acme/widgets/pull/1']])
    expect((await octokit.rest.pulls.list({ ...repo, head: 'acme:feature/none' })).data).toEqual([])
    expect((await octokit.rest.pulls.list({ ...repo, base: 'develop' })).data).toEqual([])
    expect((await octokit.rest.pulls.list({ ...repo, head: 'feature/one' })).data.map((p) => p.number)).toEqual([2, 1])
    expect(emulator.requests.at(-1)?.path).toBe('/repos/acme/widgets/pulls?head=feature%2Fone')
  })

  test('a closed pull request frees its head for a new one', async () => {
    emulator.pulls.find((p) => p.number === 1)!.state = 'closed'
    expect((await octokit.rest.pulls.list({ ...repo, state: 'closed' })).data.map((p) => p.number)).toEqual([1])
    const res = await octokit.rest.pulls.create({ ...repo, title: 'One again', head: 'feature/one', base: 'main' })
    expect(res.data.number).toBe(3)
  })

  test('unknown repositories and routes are 404; a token for another repository does not see this one', async () => {
    await expect(octokit.rest.pulls.create({ owner: 'acme', repo: 'gadgets', title: 't', head: 'a', base: 'main' })).rejects.toMatchObject({
      status: 404,
      response: { data: { message: 'Not Found', status: '404' } },
    })
    await expect(octokit.rest.repos.get(repo)).rejects.toMatchObject({ status: 404, response: { data: { message: 'Not Found' } } })
    const other = createRemote().bare
    emulator.addRepository('acme/other', other, { token: 'ghp_other' })
    await expect(client('ghp_other').rest.pulls.list(repo)).rejects.toMatchObject({ status: 404 })
    // Bearer works as well as token; owner and name match in any case, as on GitHub.
    const bearer = await fetch(`${emulator.url}/repos/ACME/Widgets/pulls?state=all`, { headers: { authorization: `Bearer ${TOKEN}` } })
    expect(bearer.status).toBe(200)
    expect(((await bearer.json()) as unknown[]).length).toBe(3)
  })

  test('broken JSON is 400 "Problems parsing JSON"; a body over 1 MB is 413', async () => {
    const post = (body: string) => fetch(`${emulator.url}/repos/acme/widgets/pulls`, { method: 'POST', headers: { authorization: `token ${TOKEN}`, 'content-type': 'application/json' }, body })
    const broken = await post('{"title": ')
    expect(broken.status).toBe(400)
    expect(broken.headers.get('content-type')).toBe('application/json; charset=utf-8')
    expect(await broken.json()).toMatchObject({ message: 'Problems parsing JSON' })
    expect(emulator.requests.at(-1)?.body).toBe('{"title": ')
    const huge = await post(JSON.stringify({ title: 't', head: 'feature/two', base: 'main', body: 'x'.repeat(1024 * 1024) }))
    expect(huge.status).toBe(413)
  })
})
