import { describe, expect, test } from 'vitest'
import { ConfigError, loadConfig } from '../../config.ts'
import { githubRepositoryOf } from '../../domain/repositories.ts'

const base = { TELEGRAM_BOT_TOKEN: '123456:abcdefghijklmnopqrstuvwxyz', OPENROUTER_API_KEY: 'sk-or-key' }

describe('loadConfig', () => {
  test('fills defaults for everything optional', () => {
    const c = loadConfig(base)
    expect(c.telegram.apiRoot).toBe('https://api.telegram.org')
    expect(c.telegram.webhookUrl).toBeUndefined()
    expect(c.database).toEqual({ url: undefined, dataDir: './data' })
    expect(c.llm).toMatchObject({ baseUrl: 'https://openrouter.ai/api/v1', model: 'openai/gpt-4o-mini', maxRetries: 3 })
    expect(c.http).toEqual({ host: '0.0.0.0', port: 3000 })
    expect(c.inbox).toEqual({ leaseMs: 120_000, maxAttempts: 3, concurrency: 8, pollMs: 500, backlogNoticeSeconds: 30 })
  })

  test('parses id lists, strips trailing slashes, and treats empty strings as unset', () => {
    const c = loadConfig({ ...base, TELEGRAM_ADMIN_IDS: ' 1, 22 ,333', ALLOWED_USER_IDS: '', TELEGRAM_API_ROOT: 'http://127.0.0.1:8081/', DATABASE_URL: '' })
    expect(c.telegram.adminIds).toEqual([1, 22, 333])
    expect(c.telegram.allowedUserIds).toEqual([])
    expect(c.telegram.apiRoot).toBe('http://127.0.0.1:8081')
    expect(c.database.url).toBeUndefined()
  })

  test('lists every secret so the logger can scrub them', () => {
    const c = loadConfig({ ...base, TELEGRAM_WEBHOOK_URL: 'https://x.test/telegram/webhook', TELEGRAM_WEBHOOK_SECRET: 'hook-secret', DATABASE_URL: 'postgres://u:p@h/db' })
    expect(c.secrets.sort()).toEqual([base.TELEGRAM_BOT_TOKEN, base.OPENROUTER_API_KEY, 'hook-secret', 'postgres://u:p@h/db'].sort())
  })

  test.each([
    [{ OPENROUTER_API_KEY: 'k' }, 'TELEGRAM_BOT_TOKEN'],
    [{ TELEGRAM_BOT_TOKEN: base.TELEGRAM_BOT_TOKEN }, 'OPENROUTER_API_KEY'],
    [{ ...base, TELEGRAM_WEBHOOK_URL: 'https://x.test/hook' }, 'TELEGRAM_WEBHOOK_SECRET'],
    [{ ...base, TELEGRAM_WEBHOOK_URL: 'https://x.test/hook', TELEGRAM_WEBHOOK_SECRET: 'has spaces' }, 'TELEGRAM_WEBHOOK_SECRET'],
    [{ ...base, TELEGRAM_WEBHOOK_URL: 'not a url' }, 'TELEGRAM_WEBHOOK_URL'],
    [{ ...base, DATABASE_URL: 'mysql://x' }, 'DATABASE_URL'],
    [{ ...base, PORT: 'eighty' }, 'PORT'],
    [{ ...base, LOG_LEVEL: 'loud' }, 'LOG_LEVEL'],
    [{ ...base, ALLOWED_USER_IDS: '1;2' }, 'ALLOWED_USER_IDS'],
    [{ ...base, GIT_REMOTE_URL: 'https://user:ghp_x@github.com/o/r.git' }, 'GIT_REMOTE_URL'],
    [{ ...base, GIT_REMOTE_URL: 'ftp://host/repo' }, 'GIT_REMOTE_URL'],
    [{ ...base, GIT_REMOTE_URL: 'https://github.com/o/r.git', GIT_PUSH_BRANCH: '--force' }, 'GIT_PUSH_BRANCH'],
    [{ ...base, GIT_REMOTE_URL: 'https://github.com/o/r.git', AIDER_TIMEOUT_SECONDS: '0' }, 'AIDER_TIMEOUT_SECONDS'],
  ])('rejects %j naming %s in one line', (env, variable) => {
    let error: unknown
    try {
      loadConfig(env)
    } catch (err) {
      error = err
    }
    expect(error).toBeInstanceOf(ConfigError)
    expect((error as ConfigError).variable).toBe(variable)
    expect((error as ConfigError).message).toMatch(new RegExp(`^Configuration error: ${variable} .+\\.$`))
    expect((error as ConfigError).message).not.toContain('\n')
  })

  test('the coder is off without GIT_REMOTE_URL, and on with defaults that follow the rest', () => {
    expect(loadConfig(base).workspace).toBeUndefined()
    const c = loadConfig({ ...base, GIT_REMOTE_URL: 'git@github.com:o/r.git', GIT_ACCESS_TOKEN: 'ghp_token', DATA_DIR: '/var/data/', LLM_MODEL: 'some/model' })
    expect(c.workspace).toEqual({
      name: 'main', // "r" is too short for a name: the fallback
      remoteUrl: 'git@github.com:o/r.git',
      accessToken: 'ghp_token',
      hostTokens: {},
      githubApiUrl: 'https://api.github.com',
      pushBranch: undefined,
      author: { name: 'Mechanic', email: 'mechanic@localhost.localdomain' },
      dir: '/var/data/workspace',
      aiderBin: 'aider',
      aiderModel: 'some/model',
      aiderTimeoutMs: 600_000,
      taskLeaseMs: 60_000,
      taskConcurrency: 2,
      tests: undefined,
      testTimeoutMs: 300_000,
      githubRepository: undefined,
    })
    expect(c.secrets).toContain('ghp_token')
  })

  test('never puts a secret value into its error message', () => {
    expect(() => loadConfig({ ...base, TELEGRAM_BOT_TOKEN: 'secret-but-malformed' })).toThrow(/^(?!.*secret-but-malformed)/)
  })
})

describe('pull requests', () => {
  test('the GitHub repository comes from a github.com remote in any of its forms', () => {
    for (const remote of ['https://github.com/acme/widgets.git', 'https://github.com/acme/widgets', 'git@github.com:acme/widgets.git', 'ssh://git@github.com/acme/widgets.git']) {
      expect(githubRepositoryOf(remote), remote).toBe('acme/widgets')
    }
    for (const remote of ['https://gitlab.com/acme/widgets.git', '/srv/git/widgets.git', 'https://github.com.evil.test/acme/widgets', 'https://github.com/acme']) {
      expect(githubRepositoryOf(remote), remote).toBeUndefined()
    }
  })

  test('GITHUB_REPOSITORY is owner/name, and tokens for other hosts are read from GIT_TOKEN_<HOST> and kept secret', () => {
    const mirror = { ...base, GIT_REMOTE_URL: '/srv/git/widgets.git', GIT_ACCESS_TOKEN: 't0ken-value' }
    expect(loadConfig({ ...mirror, GITHUB_REPOSITORY: 'acme/gadgets', GITHUB_API_URL: 'https://ghe.example.test/api/v3/' }).workspace).toMatchObject({ githubRepository: 'acme/gadgets', githubApiUrl: 'https://ghe.example.test/api/v3' })
    const c = loadConfig({ ...mirror, GIT_TOKEN_GITLAB_EXAMPLE_COM: 'glpat-other', GIT_TOKEN_: 'ignored', GIT_REPOSITORY_NAME: 'widgets' })
    expect(c.workspace?.hostTokens).toEqual({ GIT_TOKEN_GITLAB_EXAMPLE_COM: 'glpat-other' })
    expect(c.workspace?.name).toBe('widgets')
    expect(c.secrets).toContain('glpat-other')
    expect(() => loadConfig({ ...mirror, GIT_REPOSITORY_NAME: 'Not A Name' })).toThrow(/GIT_REPOSITORY_NAME/)
    expect(() => loadConfig({ ...mirror, GITHUB_REPOSITORY: 'not a repository' })).toThrow(/GITHUB_REPOSITORY must be owner\/name/)
  })
})
