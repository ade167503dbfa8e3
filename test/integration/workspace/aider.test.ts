import { chmodSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { AiderStartError, runAider } from '../../../workspace/aider.ts'
import type { AiderSettings } from '../../../workspace/aider.ts'
import { AIDER_BIN, git } from '../../support/git.ts'
import { sleep } from '../../support/http.ts'
import { OpenAIEmulator } from '../../support/openai-emulator.ts'

let openai: OpenAIEmulator
beforeAll(async () => {
  openai = await new OpenAIEmulator().start()
})
afterAll(() => openai.close())

const settings = (bin: string, timeoutMs = 60_000): AiderSettings => ({
  bin, model: 'test-model', apiBase: openai.baseUrl, apiKey: 'sk-test-aider-key', timeoutMs, author: { name: 'Mechanic', email: 'mechanic@example.test' },
})

function repo(): string {
  const dir = mkdtempSync(join(tmpdir(), 'mechanic-aider-repo-'))
  git(dir, 'init', '-q', '-b', 'main')
  git(dir, 'commit', '-q', '--allow-empty', '-m', 'init')
  return dir
}

/** Whether a process still runs: a killed one may linger as a zombie where PID 1 does not reap. */
function isRunning(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(' ')[2] !== 'Z'
  } catch {
    return false
  }
}

/** A stand-in for aider (allowed for the timeout and environment tests only). */
function fakeAider(body: string): string {
  const path = join(mkdtempSync(join(tmpdir(), 'fake-aider-')), 'aider')
  writeFileSync(path, `#!/bin/sh\n${body}\n`)
  chmodSync(path, 0o755)
  return path
}

describe.skipIf(!AIDER_BIN)('real aider (needs AIDER_BIN; .ci/run installs aider-chat)', () => {
  test('edits the repository offline through the OpenAI-compatible emulator, leaving no commit and no aider files', async () => {
    openai.respondWith(() => ({ content: 'Creating the notes file.\n\nNOTES.md\n```\nhello\n```\n' }))
    const dir = repo()
    const lines: string[] = []
    const result = await runAider(settings(AIDER_BIN!), { cwd: dir, instructions: 'add a NOTES.md saying hello', files: ['NOTES.md'], onLine: (l) => lines.push(l) }, process.env.PATH)
    expect(result.timedOut).toBe(false)
    expect(readFileSync(join(dir, 'NOTES.md'), 'utf8')).toBe('hello\n')
    expect(git(dir, 'log', '--oneline')).toMatch(/^[0-9a-f]+ init$/) // no auto-commit: Mechanic commits
    expect(git(dir, 'status', '--porcelain')).toBe('?? NOTES.md')
    expect(lines.join('\n')).toMatch(/Applied edit to NOTES.md/)
    expect(openai.requests.at(-1)?.authorization).toBe('Bearer sk-test-aider-key')
    expect(result.durationMs).toBeLessThan(60_000)
  })
})

describe('the aider process', () => {
  test('gets only the environment it needs: no bot token, database URL or git token', async () => {
    const dump = join(mkdtempSync(join(tmpdir(), 'env-')), 'env.txt')
    process.env.TELEGRAM_BOT_TOKEN = '654321:should-never-reach-aider'
    process.env.DATABASE_URL = 'postgres://user:secret@host/db'
    process.env.GIT_ACCESS_TOKEN = 'ghp_should-never-reach-aider'
    try {
      const result = await runAider(settings(fakeAider(`env > ${dump}; echo "args: $*"`)), { cwd: repo(), instructions: 'x' }, process.env.PATH)
      const env: Record<string, string> = Object.fromEntries(readFileSync(dump, 'utf8').trim().split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]))
      const ours = ['GIT_AUTHOR_EMAIL', 'GIT_AUTHOR_NAME', 'GIT_COMMITTER_EMAIL', 'GIT_COMMITTER_NAME', 'GIT_TERMINAL_PROMPT', 'HOME', 'LANG', 'LITELLM_LOCAL_MODEL_COST_MAP', 'OPENAI_API_BASE', 'OPENAI_API_KEY', 'PATH']
      const setByTheShell = ['PWD', 'OLDPWD', 'SHLVL', '_']
      expect(Object.keys(env).filter((k) => !setByTheShell.includes(k)).sort()).toEqual(ours.sort())
      expect(env.OPENAI_API_KEY).toBe('sk-test-aider-key')
      expect(JSON.stringify(env)).not.toMatch(/should-never-reach-aider|secret@host/)
      expect(result.output).toMatch(/--no-check-update/)
      expect(result.output).not.toContain('sk-test-aider-key') // the key is in the environment, not in argv
    } finally {
      delete process.env.TELEGRAM_BOT_TOKEN
      delete process.env.DATABASE_URL
      delete process.env.GIT_ACCESS_TOKEN
    }
  })

  test('past its timeout, aider and every process it started are killed', async () => {
    const pidFile = join(mkdtempSync(join(tmpdir(), 'pids-')), 'child.pid')
    const bin = fakeAider(`sleep 300 & echo $! > ${pidFile}; echo started; wait`)
    const t0 = Date.now()
    const result = await runAider(settings(bin, 1500), { cwd: repo(), instructions: 'hang' }, process.env.PATH)
    expect(result.timedOut).toBe(true)
    expect(Date.now() - t0).toBeLessThan(10_000)
    const grandchild = Number(readFileSync(pidFile, 'utf8'))
    await sleep(200)
    expect(isRunning(grandchild)).toBe(false) // the sleep it started was killed too
  })

  test('an abort signal cancels a run', async () => {
    const controller = new AbortController()
    setTimeout(() => controller.abort(), 300)
    const result = await runAider(settings(fakeAider('sleep 300')), { cwd: repo(), instructions: 'x', signal: controller.signal }, process.env.PATH)
    expect(result.cancelled).toBe(true)
  })

  test('a missing binary is a clear start error', async () => {
    await expect(runAider(settings('/nonexistent/aider'), { cwd: repo(), instructions: 'x' }, process.env.PATH)).rejects.toThrow(AiderStartError)
    expect(existsSync('/nonexistent/aider')).toBe(false)
  })
})
