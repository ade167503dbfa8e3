import { describe, expect, test } from 'vitest'
import { diffOf, endText } from '../../bot/tasks/report.ts'
import { followUpButtons, followUpText, parseMore, repositoryButtons } from '../../bot/features/tasks.ts'
import { addProblemText, repositoryLine } from '../../bot/features/repos.ts'
import type { Pool } from '../../db/database.ts'
import { continuationOf } from '../../db/tasks.ts'
import type { TaskRow } from '../../db/tasks.ts'
import { remoteHost, remoteUrlProblem, repositoryNameOf, tokenVariableOf } from '../../domain/repositories.ts'
import { RepositorySet } from '../../workspace/repositories.ts'
import type { WorkspaceSettings } from '../../workspace/repositories.ts'

describe('repository addresses', () => {
  test('take https, ssh, scp-like and local addresses; refuse credentials, options and other transports', () => {
    for (const ok of ['https://github.com/acme/web.git', 'ssh://git@git.example.com:2222/acme/web.git', 'git@gitlab.com:acme/web.git', '/srv/git/web.git', 'file:///srv/git/web.git']) expect(remoteUrlProblem(ok), ok).toBeUndefined()
    for (const creds of ['https://bob:token@github.com/acme/web.git', 'https://token@github.com/acme/web.git', 'ssh://bob:pw@host/acme/web.git']) expect(remoteUrlProblem(creds), creds).toBe('credentials')
    for (const bad of ['ext::sh -c touch', '-oProxyCommand=x', 'ftp://host/repo', 'relative/path', 'https://host/a b', `https://host/${'x'.repeat(600)}`]) expect(remoteUrlProblem(bad), bad).toBe('format')
  })

  test('hosts, token variables and default names', () => {
    expect(remoteHost('https://GitLab.Example.com/acme/web.git')).toBe('gitlab.example.com')
    expect(remoteHost('https://git.example.com:8443/acme/web.git')).toBe('git.example.com:8443')
    expect(remoteHost('git@github.com:acme/web.git')).toBe('github.com')
    expect(remoteHost('/srv/git/web.git')).toBeUndefined()
    expect(tokenVariableOf('git.example.com:8443')).toBe('GIT_TOKEN_GIT_EXAMPLE_COM_PORT_8443')
    // Look-alike hosts never share a token.
    const hosts = ['gitlab.example.com', 'gitlab-example.com', 'gitlab.example-com', 'gitlab.example.com:443', 'git.lab.example.com', 'xn--gitlab-9ya.example.com']
    expect(new Set(hosts.map(tokenVariableOf)).size).toBe(hosts.length)
    expect(repositoryNameOf('https://github.com/acme/Widgets.git')).toBe('widgets')
    expect(repositoryNameOf('git@github.com:acme/my.app.git')).toBe('my-app')
    expect(repositoryNameOf('/srv/git/9lives.git/')).toBe('lives')
    expect(repositoryNameOf('/srv/git/x')).toBe('main')
  })
})

describe('RepositorySet: tokens and pull requests per repository', () => {
  const settings = (over: Partial<WorkspaceSettings['configured']> = {}, hostTokens: Record<string, string> = {}): WorkspaceSettings => ({
    dir: '/tmp/ws',
    author: { name: 'M', email: 'm@example.test' },
    path: undefined,
    githubApiUrl: 'https://api.github.com',
    testTimeoutMs: 1000,
    configured: { name: 'app', url: 'https://github.com/acme/app.git', accessToken: 'ghp_default', githubRepository: undefined, pushBranch: undefined, testCommand: undefined, ...over },
    hostTokens,
  })
  const set = (s: WorkspaceSettings) => new RepositorySet({ pool: {} as Pool, settings: s })

  test('GIT_ACCESS_TOKEN serves the configured repository and its host; other hosts need their own', () => {
    const repos = set(settings({}, { GIT_TOKEN_GITLAB_EXAMPLE_COM: 'glpat_other' }))
    expect(repos.tokenFor('https://github.com/acme/app.git')).toBe('ghp_default')
    expect(repos.tokenFor('https://github.com/acme/web.git')).toBe('ghp_default')
    expect(repos.tokenFor('https://gitlab.example.com/acme/web.git')).toBe('glpat_other')
    expect(repos.tokenFor('https://bitbucket.example.com/acme/web.git')).toBeUndefined()
    // A host with a token of its own uses it, even the configured repository's host.
    expect(set(settings({}, { GIT_TOKEN_GITHUB_COM: 'ghp_host' })).tokenFor('https://github.com/acme/web.git')).toBe('ghp_host')
  })

  test('pull requests need a GitHub repository (given, else from a github.com address) and a token', () => {
    const repos = set(settings({}, { GIT_TOKEN_GITLAB_EXAMPLE_COM: 'glpat_other' }))
    expect(repos.pullRequestTarget('https://github.com/acme/web.git', null)).toEqual({ owner: 'acme', repo: 'web', token: 'ghp_default' })
    expect(repos.pullRequestTarget('https://gitlab.example.com/acme/web.git', null)).toBeUndefined()
    expect(repos.pullRequestTarget('https://gitlab.example.com/acme/web.git', 'acme/web-mirror')).toEqual({ owner: 'acme', repo: 'web-mirror', token: 'glpat_other' })
    expect(set(settings({ accessToken: undefined })).pullRequestTarget('https://github.com/acme/app.git', null)).toBeUndefined()
  })
})

describe('follow-ups', () => {
  const task = (over: Partial<TaskRow>): TaskRow =>
    ({
      id: 'k3f9x2qa',
      status: 'waiting',
      input: { instructions: 'add a thing', files: [] },
      result: { branch: 'mechanic/k3f9x2qa', baseBranch: 'main', baseSha: 'a'.repeat(40), patch: 'From x', files: [] },
      ...over,
    }) as TaskRow

  test('continue a change under review, one pushed to its own branch, or a failed follow-up; not one pushed elsewhere or ended without a change', () => {
    expect(continuationOf(task({}))).toMatchObject({ taskId: 'k3f9x2qa', branch: 'mechanic/k3f9x2qa', baseSha: 'a'.repeat(40), pushed: false })
    const pushed = task({ status: 'completed', result: { ...task({}).result, pushedTo: 'mechanic/k3f9x2qa' } })
    expect(continuationOf(pushed)?.pushed).toBe(true)
    expect(continuationOf(task({ status: 'completed', result: { ...task({}).result, pushedTo: 'main' } }))).toBeUndefined()
    expect(continuationOf(task({ status: 'failed' }))).toBeUndefined()
    const continues = { taskId: 'p', branch: 'mechanic/p', baseBranch: 'main', baseSha: 'b'.repeat(40), patch: 'From y', pushed: true }
    expect(continuationOf(task({ status: 'failed', input: { instructions: 'x', files: [], continues } }))?.pushed).toBe(true)
    // A follow-up that never reached its review (a git failure, a lost runner, a cancel) still holds the change it started from.
    const lost = continuationOf(task({ status: 'failed', error: 'repo_remote', result: null, input: { instructions: 'x', files: [], continues } }))
    expect(lost).toMatchObject({ taskId: 'k3f9x2qa', branch: 'mechanic/p', baseSha: 'b'.repeat(40), patch: 'From y' })
    expect(continuationOf(task({ status: 'cancelled', error: 'cancelled_running', result: null, input: { instructions: 'x', files: [], continues } }))?.patch).toBe('From y')
    // One that was discarded or continued by another is over.
    expect(continuationOf(task({ status: 'cancelled', error: 'discarded', input: { instructions: 'x', files: [], continues } }))).toBeUndefined()
    expect(continuationOf(task({ status: 'cancelled', error: 'superseded:abc', input: { instructions: 'x', files: [], continues } }))).toBeUndefined()
    expect(continuationOf(task({ status: 'cancelled' }))).toBeUndefined()
    expect(continuationOf(task({ result: null }))).toBeUndefined()
  })

  test('/code more <task>: … and the buttons that pick a repository', () => {
    expect(parseMore('more k3f9x2qa: also the README')).toEqual({ taskId: 'k3f9x2qa', instructions: 'also the README' })
    expect(parseMore('more K3F9X2QA :  two\nlines')).toEqual({ taskId: 'k3f9x2qa', instructions: 'two\nlines' })
    expect(parseMore('add more tests: please')).toBeUndefined()
    const data = repositoryButtons.encode({ id: 'AbC_-12345xy', name: 'a'.repeat(32) })
    expect(Buffer.byteLength(data)).toBeLessThanOrEqual(64)
    expect(repositoryButtons.decode(data)).toEqual({ id: 'AbC_-12345xy', name: 'a'.repeat(32) })
    expect(repositoryButtons.decode('rp:id:Not-A-Name')).toBeUndefined()
    expect(repositoryButtons.decode('rp:id:web:extra')).toBeUndefined()
    expect(followUpButtons.decode(followUpButtons.encode({ id: 'AbC_-12345xy', go: true }))).toEqual({ id: 'AbC_-12345xy', go: true })
    expect(followUpButtons.decode('fu:AbC:maybe')).toBeUndefined()
  })

  test('what people read', () => {
    expect(followUpText({ refused: 'busy' }, 'k3f9').html).toBe('Task <code>k3f9</code> is still running. Reply to its summary once it is ready for review.')
    expect(addProblemText({ problem: 'auth', tokenVariable: 'GIT_TOKEN_GITLAB_EXAMPLE_COM' }, 'web').html).toMatch(/^The remote refused access\. Set <code>GIT_TOKEN_GITLAB_EXAMPLE_COM<\/code>/)
    const line = repositoryLine({ name: 'web', url: 'https://gitlab.example.com/a/web.git', configured: false, testCommand: 'npm test', pullRequests: undefined, missingToken: 'GIT_TOKEN_GITLAB_EXAMPLE_COM' }, 'web')
    expect(line.html).toBe("<b>web</b> (this chat's default): <code>https://gitlab.example.com/a/web.git</code>\n  tests: <code>npm test</code> · pull requests: off · no token: set <code>GIT_TOKEN_GITLAB_EXAMPLE_COM</code>")
  })

  test('a failed follow-up says its starting change is kept; any other failure does not', () => {
    const continues = { taskId: 'p', branch: 'mechanic/p', baseBranch: 'main', baseSha: 'b'.repeat(40), patch: 'From y', pushed: false }
    const failed = { id: 'k3f9', status: 'failed' as const, error: 'aider_failed:1', result: { patch: 'From y' } }
    expect(endText({ ...failed, input: { continues } }).html).toMatch(/The change it continued is kept: reply to this message to go on from it\.$/)
    expect(endText(failed).html).not.toMatch(/kept/)
  })

  test("a follow-up's patch has a mail per commit: the diff shows each commit's diff in turn, without mail headers", () => {
    const mail = (sha: string, file: string) => `From ${sha} Mon Sep 17 00:00:00 2001\nFrom: M <m@x>\nSubject: [PATCH] ${file}\n\n---\n ${file} | 1 +\n\ndiff --git a/${file} b/${file}\n+++ b/${file}\n+hi\n`
    expect(diffOf(mail('1'.repeat(40), 'ONE.md') + mail('2'.repeat(40), 'TWO.md'))).toBe('diff --git a/ONE.md b/ONE.md\n+++ b/ONE.md\n+hi\ndiff --git a/TWO.md b/TWO.md\n+++ b/TWO.md\n+hi')
  })
})
