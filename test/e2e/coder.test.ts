import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, test } from 'vitest'
import { CoderWorld, GIT_TOKEN, fakeAider, textOf } from '../support/coder.ts'
import { ADMIN_ID, BOT_TOKEN, USER_ID, WEBHOOK_SECRET } from '../support/harness.ts'
import type { Harness } from '../support/harness.ts'
import { sleep, waitUntil } from '../support/http.ts'
import { AIDER_BIN, git, pushFromElsewhere } from '../support/git.ts'
import { GitHubEmulator } from '../support/github-emulator.ts'

const world = new CoderWorld()
let h: Harness
let remote: { bare: string; url: string }
let workspace: string
let aiderSpans: Array<[number, number]>
const { model, start, buttonsMessage, waitForText, approvedPlan, remoteBranches, query } = world

beforeEach(async () => {
  await world.setUp()
  ;({ h, remote, workspace, aiderSpans } = world)
})
afterEach(() => world.tearDown())

describe.skipIf(!AIDER_BIN)('the coder with real aider, end to end (needs AIDER_BIN; .ci/run installs aider-chat)', () => {
  test('/code → plan approval → aider edits → summary with the diff → Push: the commit is on the remote', async () => {
    const service = await start()
    const { plan, taskId } = await approvedPlan(service, 'add a NOTES.md saying hello')
    expect(plan.text).toMatch(/Approval needed \(plan\)\nChange the repository with aider: add a NOTES.md saying hello \(files: NOTES.md\)/)
    expect(Object.keys(plan.buttons)).toEqual(['Approve', 'Reject', 'Edit'])

    const summary = await waitForText(USER_ID, /is ready for review/)
    expect(summary).toMatch(new RegExp(`^Task ${taskId} is ready for review: 1 file changed, \\+1 −0\\n• NOTES.md \\(\\+1 −0\\)`))
    expect(summary).toMatch(/aider: Creating NOTES.md\./)
    expect(summary).toMatch(/\+\+\+ b\/NOTES.md\n@@ -0,0 \+1 @@\n\+hello/) // the short diff, inline
    const entities = h.telegram.callsOf('sendMessage').find((c) => textOf(c) === summary)?.shown?.entities ?? []
    expect(entities.find((e) => e.type === 'pre')?.language).toBe('diff')
    expect(entities.filter((e) => e.type === 'code').map((e) => summary.slice(e.offset, e.offset + e.length))).toEqual([taskId, 'NOTES.md'])
    const progress = h.telegram.calls.filter((c) => /^Task \w+: (running aider|preparing|waiting|done)/.test(textOf(c)))
    expect(progress.length).toBeGreaterThan(0)

    const push = await buttonsMessage(2)
    expect(push.text).toMatch(new RegExp(`Approval needed \\(push\\)\\nPush the change of task ${taskId} to mechanic/${taskId}\\?`))
    expect(Object.keys(push.buttons)).toEqual(['Push', 'Discard'])
    expect(remoteBranches()).toEqual(['main']) // nothing pushed before the second approval

    await service.deliver(h.press(push.messageId, push.buttons.Push!), WEBHOOK_SECRET)
    expect(await waitForText(USER_ID, /pushed to/)).toMatch(new RegExp(`^Task ${taskId}: pushed to mechanic/${taskId} \\([0-9a-f]{10}\\)\\.$`))
    expect(remoteBranches().sort()).toEqual(['main', `mechanic/${taskId}`])
    expect(git(remote.bare, 'show', `mechanic/${taskId}:NOTES.md`)).toBe('hello')
    expect(git(remote.bare, 'log', '-1', '--format=%an <%ae>|%s', `mechanic/${taskId}`)).toBe('Mechanic <mechanic@localhost.localdomain>|add a NOTES.md saying hello')
    // The thread is resumed through the inbox: the agent follows up on the push.
    await waitForText(USER_ID, /^\[coder\] follow-up: \[Mechanic, not the person\] Task \w+: pushed/)
    // The token never touched the clone's config, and aider's files stay out of the repository.
    const clone = join(workspace, 'repo')
    expect(readFileSync(join(clone, '.git', 'config'), 'utf8')).not.toContain(GIT_TOKEN)
    expect(git(remote.bare, 'ls-tree', '--name-only', `mechanic/${taskId}`).split('\n').sort()).toEqual(['NOTES.md', 'README.md'])

    await service.deliver(h.text('/tasks'), WEBHOOK_SECRET)
    expect(await waitForText(USER_ID, /^Recent tasks:/)).toMatch(new RegExp(`${taskId} · completed — pushed to mechanic/${taskId}`))
  })

  test('Discard deletes the branch and cancels the task; nothing reaches the remote', async () => {
    const service = await start()
    const { taskId } = await approvedPlan(service, 'add a NOTES.md saying bye')
    const push = await buttonsMessage(2)
    await service.deliver(h.press(push.messageId, push.buttons.Discard!), WEBHOOK_SECRET)
    expect(await waitForText(USER_ID, /was cancelled/)).toBe(`Task ${taskId} was cancelled: Discarded; nothing was pushed.`)
    expect(remoteBranches()).toEqual(['main'])
    await waitUntil(() => git(join(workspace, 'repo'), 'branch', '--list', 'mechanic/*') === '' || undefined, 'the local branch deleted')
    const edit = h.telegram.callsOf('editMessageText').find((c) => c.params.message_id === push.messageId)
    expect(edit && textOf(edit)).toMatch(/Discarded by User2000 at/)
  })

  test('a rejected plan runs nothing', async () => {
    const service = await start()
    await service.deliver(h.text('/code add a NOTES.md saying nope'), WEBHOOK_SECRET)
    const plan = await buttonsMessage(1)
    await service.deliver(h.press(plan.messageId, plan.buttons.Reject!), WEBHOOK_SECRET)
    await waitForText(USER_ID, /^\[coder\] coder: The person did not approve/)
    await sleep(1500)
    expect(aiderSpans).toEqual([])
    expect(await query('select id from tasks')).toEqual([])
    expect(existsSync(join(workspace, 'repo'))).toBe(false) // not even cloned
  })

  test('two tasks on one repository run side by side, each in its own worktree, and each change stands alone', async () => {
    const service = await start()
    await approvedPlan(service, 'add a ONE.md saying first', 2001)
    await approvedPlan(service, 'add a TWO.md saying second', 2002)
    // Both run aider at the same moment, each in a worktree of its own beside the clone.
    await waitUntil(async () => (await query(`select 1 from tasks where activity = 'running aider'`)).length === 2 || undefined, 'two aider runs at once', 30_000)
    expect(readdirSync(join(workspace, 'worktrees')).sort()).toHaveLength(2)
    const first = await buttonsMessage(2, 2001)
    const second = await buttonsMessage(2, 2002)
    expect(first.text).toMatch(/Push the change/)
    expect(second.text).toMatch(/Push the change/)
    expect(aiderSpans).toHaveLength(2)
    // Worktrees go when the step ends; the changes live on as patches in the tasks' rows.
    expect(readdirSync(join(workspace, 'worktrees'))).toEqual([])
    const rows = await query<{ attempts: number }>('select attempts from tasks')
    expect(rows).toHaveLength(2)
    await service.deliver(h.press(second.messageId, second.buttons.Push!, { chatId: 2002, userId: 2002 }), WEBHOOK_SECRET)
    await waitForText(2002, /pushed to/)
    await service.deliver(h.press(first.messageId, first.buttons.Push!, { chatId: 2001, userId: 2001 }), WEBHOOK_SECRET)
    await waitForText(2001, /pushed to/)
    const branches = remoteBranches().filter((br) => br !== 'main')
    expect(branches).toHaveLength(2)
    const trees = branches.map((br) => git(remote.bare, 'ls-tree', '--name-only', br).split('\n').sort().join(' ')).sort()
    expect(trees).toEqual(['ONE.md README.md', 'README.md TWO.md'])
    // /status shows the disk the coder takes: the clone, and no worktree left.
    await service.deliver(h.text('/status', { userId: ADMIN_ID }), WEBHOOK_SECRET)
    expect(await waitForText(ADMIN_ID, /^Workspace: /m)).toMatch(/^Workspace: clone \d+\.\d MB, 0 task worktree\(s\) 0\.0 MB$/m)
  })

  test('TASK_CONCURRENCY=1 runs tasks one after the other', async () => {
    const service = await start({ TASK_CONCURRENCY: '1' })
    await approvedPlan(service, 'add a ONE.md saying first', 2001)
    await approvedPlan(service, 'add a TWO.md saying second', 2002)
    await buttonsMessage(2, 2001)
    await buttonsMessage(2, 2002)
    const [a, b] = aiderSpans.sort((x, y) => x[0] - y[0]) as [[number, number], [number, number]]
    expect(b[0]).toBeGreaterThanOrEqual(a[1])
  })

  test('with GIT_PUSH_BRANCH=main, a remote that moved meanwhile is rebased, never forced', async () => {
    const service = await start({ GIT_PUSH_BRANCH: 'main' })
    const { taskId } = await approvedPlan(service, 'add a NOTES.md saying rebased')
    const push = await buttonsMessage(2)
    expect(push.text).toMatch(new RegExp(`task ${taskId} to main\\?`))
    pushFromElsewhere(remote.bare, { 'OTHER.md': 'someone else\n' }, 'a commit from elsewhere')
    await service.deliver(h.press(push.messageId, push.buttons.Push!), WEBHOOK_SECRET)
    await waitForText(USER_ID, /pushed to main/)
    expect(git(remote.bare, 'log', '--format=%s', 'main').split('\n')).toEqual(['add a NOTES.md saying rebased', 'a commit from elsewhere', 'initial commit'])
    expect(git(remote.bare, 'show', 'main:NOTES.md')).toBe('rebased')
    expect(git(remote.bare, 'show', 'main:OTHER.md')).toBe('someone else')
  })

  test('a conflicting change fails the task with a clear message and pushes nothing', async () => {
    const service = await start({ GIT_PUSH_BRANCH: 'main' })
    const { taskId } = await approvedPlan(service, 'add a README.md saying mine')
    const push = await buttonsMessage(2)
    pushFromElsewhere(remote.bare, { 'README.md': 'theirs\n' }, 'a conflicting commit')
    const before = git(remote.bare, 'rev-parse', 'main')
    await service.deliver(h.press(push.messageId, push.buttons.Push!), WEBHOOK_SECRET)
    expect(await waitForText(USER_ID, /failed/)).toBe(`Task ${taskId} failed: The change conflicts with main on the remote, so nothing was pushed. Ask again to redo it on the current code.`)
    expect(git(remote.bare, 'rev-parse', 'main')).toBe(before)
  })
})

const isRunning = (pid: number) => {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(' ')[2] !== 'Z'
  } catch {
    return false
  }
}

describe('the coder with a stand-in aider (timeouts, environment, crashes)', () => {
  test('aider hanging past its timeout is killed, the task failed, the lock released for the next task', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fake-aider-'))
    const service = await start({ AIDER_BIN: fakeAider(dir), AIDER_TIMEOUT_SECONDS: '2' })
    const { taskId } = await approvedPlan(service, 'hang forever')
    expect(await waitForText(USER_ID, /failed/, 30_000)).toBe(`Task ${taskId} failed: aider did not finish within 2 s and was stopped; nothing was kept.`)
    const pid = (await query<{ pid: number }>(`select (result->>'aiderPid')::int as pid from tasks where id = $1`, [taskId]))[0]?.pid
    expect(pid).toBeGreaterThan(0)
    await waitUntil(() => !isRunning(pid!) || undefined, 'the hung aider gone')
    // The lock is free: the next task runs at once.
    await service.deliver(h.text('/code add a NOTES.md saying after'), WEBHOOK_SECRET)
    const plan = await buttonsMessage(2)
    await service.deliver(h.press(plan.messageId, plan.buttons.Approve!), WEBHOOK_SECRET)
    await waitForText(USER_ID, /is ready for review: 1 file changed/, 30_000)
  })

  test("aider's environment holds what it needs and no secret of ours", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fake-aider-'))
    const service = await start({ AIDER_BIN: fakeAider(dir) })
    const { taskId } = await approvedPlan(service, 'print the env')
    await waitForText(USER_ID, /is ready for review/, 30_000)
    // The names of its variables, as it wrote them into the change (values would carry the model key).
    const patch = (await query<{ patch: string }>(`select result->>'patch' as patch from tasks where id = $1`, [taskId]))[0]!.patch
    const names = /\+\+\+ b\/ENV-NAMES\.txt\n@@[^\n]*\n((?:\+[^\n]*\n)+)/.exec(patch)![1]!.split('\n').filter(Boolean).map((l) => l.slice(1))
    const ours = ['GIT_ALTERNATE_OBJECT_DIRECTORIES', 'GIT_AUTHOR_EMAIL', 'GIT_AUTHOR_NAME', 'GIT_COMMITTER_EMAIL', 'GIT_COMMITTER_NAME', 'GIT_CONFIG_COUNT', 'GIT_CONFIG_GLOBAL', 'GIT_CONFIG_KEY_0', 'GIT_CONFIG_KEY_1', 'GIT_CONFIG_NOSYSTEM', 'GIT_CONFIG_VALUE_0', 'GIT_CONFIG_VALUE_1', 'GIT_OBJECT_DIRECTORY', 'GIT_TERMINAL_PROMPT', 'HOME', 'LANG', 'LITELLM_LOCAL_MODEL_COST_MAP', 'OPENAI_API_BASE', 'OPENAI_API_KEY', 'PATH', 'PYTHONDONTWRITEBYTECODE']
    // aider talks to the same endpoint with the same key as the agents; the shell adds PWD, SHLVL and _.
    expect(names.filter((n) => !['PWD', 'OLDPWD', 'SHLVL', '_'].includes(n))).toEqual(ours)
    for (const secret of [BOT_TOKEN, GIT_TOKEN, WEBHOOK_SECRET]) expect(patch).not.toContain(secret)
  })

  test('kill -9 during a task: with the default lease, the restart at once fails and tells the task, kills the orphaned aider, and the repository is usable', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fake-aider-'))
    const env = { AIDER_BIN: fakeAider(dir) } // TASK_LEASE_SECONDS stays at its default (60 s)
    const first = await start(env)
    const { taskId } = await approvedPlan(first, 'hang here')
    const pid = await waitUntil(async () => (await query<{ pid: number | null }>(`select (result->>'aiderPid')::int as pid from tasks where id = $1`, [taskId]))[0]?.pid ?? undefined, 'aider started')
    expect(isRunning(pid)).toBe(true)
    await first.kill9()
    const second = await start(env)
    // The dead runner's liveness lock is gone, so its task is recovered on the first poll, not after the lease.
    expect(await waitForText(USER_ID, new RegExp(`Task ${taskId} failed`), 10_000)).toBe(`Task ${taskId} failed: Mechanic stopped while the task ran; nothing was pushed.`)
    const started = Number((await second.waitForLog((l) => l.msg === 'service started')).time)
    const toldAt = h.telegram.callsOf('sendMessage').find((c) => textOf(c).startsWith(`Task ${taskId} failed`))!.at
    console.info(`task crash recovery: told ${toldAt - started} ms after "service started"`)
    await waitUntil(() => !isRunning(pid) || undefined, 'the orphaned aider killed')
    const [row] = await query<{ status: string; claimed: string | null }>('select status, claimed_by as claimed from tasks where id = $1', [taskId])
    expect(row).toEqual({ status: 'failed', claimed: null })
    // The dead run's worktree is gone, from the disk and from git's list.
    await second.waitForLog((l) => l.msg === 'worktrees left by an earlier run removed' && l.removed === 1)
    expect(existsSync(join(workspace, 'worktrees', taskId))).toBe(false)
    expect(git(join(workspace, 'repo'), 'worktree', 'list').split('\n')).toHaveLength(1)
    await second.deliver(h.text('/code add a NOTES.md saying again'), WEBHOOK_SECRET)
    const plan = await buttonsMessage(2)
    await second.deliver(h.press(plan.messageId, plan.buttons.Approve!), WEBHOOK_SECRET)
    await waitForText(USER_ID, /is ready for review/, 30_000)
  })

  test('SIGTERM during a task hands it back to the queue after the grace period; the next start runs it from a clean clone', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fake-aider-'))
    const env = { AIDER_BIN: fakeAider(dir), SHUTDOWN_GRACE_SECONDS: '1' }
    const first = await start(env)
    const { taskId } = await approvedPlan(first, 'hang-once then write')
    await waitUntil(async () => (await query(`select 1 from tasks where id = $1 and activity = 'running aider'`, [taskId]))[0], 'aider running')
    expect(await first.stop()).toEqual({ code: 0, signal: null })
    expect((await query('select status, attempts, claimed_by from tasks where id = $1', [taskId]))[0]).toEqual({ status: 'queued', attempts: 0, claimed_by: null })
    writeFileSync(join(dir, 'hung'), '')
    await start(env)
    expect(await waitForText(USER_ID, /is ready for review/, 30_000)).toMatch(new RegExp(`^Task ${taskId} is ready for review: 1 file changed`))
    expect(h.telegram.sentTexts(USER_ID).filter((t) => /failed/.test(t))).toEqual([])
  })

  test('TASK_TEST_COMMAND runs on the change: passed is said in the summary, and the review follows', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fake-aider-'))
    const service = await start({ AIDER_BIN: fakeAider(dir), TASK_TEST_COMMAND: 'test -f NOTES.md && echo "1 passed"' })
    const { taskId } = await approvedPlan(service, 'add the notes file')
    const summary = await waitForText(USER_ID, /is ready for review/, 30_000)
    expect(summary).toMatch(new RegExp(`^Task ${taskId} is ready for review: 1 file changed, \\+1 −0\\n• NOTES\\.md \\(\\+1 −0\\)\\n\\nTests: passed in \\d+\\.\\d s\\n`))
    expect(Object.keys((await buttonsMessage(2)).buttons)).toEqual(['Push', 'Discard'])
  })

  test('a failing test command is shown plainly with its last lines, in an environment without our secrets; the person still decides', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fake-aider-'))
    const command = `seq 1 30; echo "ENV: $(env | cut -d= -f1 | sort | tr '\\n' ' ')"; echo "FAIL: the widget test"; exit 3`
    const service = await start({ AIDER_BIN: fakeAider(dir), TASK_TEST_COMMAND: command })
    await approvedPlan(service, 'add the notes file')
    const summary = await waitForText(USER_ID, /is ready for review/, 30_000)
    const lines = summary.split('\n')
    const at = lines.findIndex((l) => /^Tests: failed \(exit code 3\) in \d+\.\d s; the last lines:$/.test(l))
    expect(at).toBeGreaterThan(0)
    // The last twenty lines: 13 … 30 of seq, the names of its variables, then the failure.
    expect(lines.slice(at + 1, at + 19)).toEqual(Array.from({ length: 18 }, (_, i) => String(i + 13)))
    expect(lines[at + 20]).toBe('FAIL: the widget test')
    // Its environment: CI=true, PATH, a HOME and LANG, and git told to read no config of ours; nothing else.
    const names = lines[at + 19]!.replace(/^ENV: /, '').trim().split(' ').filter((n) => !['PWD', 'OLDPWD', 'SHLVL', '_'].includes(n))
    expect(names).toEqual(['CI', 'GIT_ALTERNATE_OBJECT_DIRECTORIES', 'GIT_CONFIG_GLOBAL', 'GIT_CONFIG_NOSYSTEM', 'GIT_OBJECT_DIRECTORY', 'HOME', 'LANG', 'PATH'])
    expect(Object.keys((await buttonsMessage(2)).buttons)).toEqual(['Push', 'Discard'])
  })

  test('a long diff comes as a task-<id>.diff document next to the summary', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fake-aider-'))
    const service = await start({ AIDER_BIN: fakeAider(dir) })
    const { taskId } = await approvedPlan(service, 'write a big file')
    const summary = await waitForText(USER_ID, /is ready for review/, 30_000)
    // The start of the change is shown in the summary; the whole of it comes as a document.
    const excerpt = ['+++ NUMBERS.txt', '@@ -0,0 +1,400 @@', ...Array.from({ length: 12 }, (_, i) => `+${i + 1}`), '…'].join('\n')
    expect(summary).toBe(`Task ${taskId} is ready for review: 1 file changed, +400 −0\n• NUMBERS.txt (+400 −0)\n\nThe largest changes:\n${excerpt}\n\nThe full diff is in task-${taskId}.diff below.`)
    const doc = await h.telegram.waitForCall('sendDocument')
    const file = Object.values(doc.params).find((v): v is { filename: string; content: string } => typeof v === 'object' && v !== null && 'filename' in v)
    expect(file?.filename).toBe(`task-${taskId}.diff`)
    expect(file?.content).toMatch(/^From [0-9a-f]{40} /)
    expect(file?.content).toContain('+++ b/NUMBERS.txt')
    expect(file?.content).toContain('\n+400\n')
    await buttonsMessage(2) // and the push approval after it
  })

  test('BUDGET_TASK: aider is stopped as soon as its own cost passes the cap, the task fails saying so, and the run is recorded with the task', async () => {
    h.openai.prices.set('test-model', { prompt: 0.000003, completion: 0.000015 })
    const dir = mkdtempSync(join(tmpdir(), 'fake-aider-'))
    const service = await start({ AIDER_BIN: fakeAider(dir), BUDGET_TASK: '0.01' })
    const started = Date.now()
    const { taskId } = await approvedPlan(service, 'spend it all')
    expect(await waitForText(USER_ID, /failed/, 30_000)).toBe(`Task ${taskId} failed: aider was stopped: the task spent $0.02 of $0.01, its budget; nothing was kept.`)
    expect(Date.now() - started).toBeLessThan(30_000) // not the stand-in's 60 s, nor aider's timeout
    await waitUntil(async () => (await query(`select 1 from model_usage where task_id = $1`, [taskId]))[0], 'the run recorded')
    expect(await query(`select agent, input_tokens as input, output_tokens as output, cost_usd::float8 as cost, cost_source as source from model_usage where task_id = $1`, [taskId])).toEqual([
      { agent: 'coder', input: 2100, output: 50, cost: 0.02, source: 'price' },
    ])
    // Admins see it among the coder's tasks in /usage.
    await service.deliver(h.text('/usage', { userId: ADMIN_ID }), WEBHOOK_SECRET)
    expect(await waitForText(ADMIN_ID, /Coder tasks/)).toContain(`\nCoder tasks, last 30 days:\n${taskId}: $0.02 in 1 call(s)`)
  })

  test('/cancel stops a running aider and cancels the task; /tasks shows it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fake-aider-'))
    const service = await start({ AIDER_BIN: fakeAider(dir) })
    const { taskId } = await approvedPlan(service, 'hang until cancelled')
    await waitUntil(async () => (await query(`select 1 from tasks where id = $1 and activity = 'running aider'`, [taskId]))[0], 'aider running')
    await service.deliver(h.text('/tasks'), WEBHOOK_SECRET)
    expect(await waitForText(USER_ID, /^Recent tasks:/)).toMatch(new RegExp(`${taskId} · running — running aider`))
    await service.deliver(h.text('/cancel'), WEBHOOK_SECRET)
    expect(await waitForText(USER_ID, /^Stopping task/)).toBe(`Stopping task ${taskId}…`)
    expect(await waitForText(USER_ID, /was cancelled/, 30_000)).toBe(`Task ${taskId} was cancelled: Cancelled while it ran; nothing was kept.`)
  })

  test('without GIT_REMOTE_URL there is no coder: /code says how to set it up', async () => {
    h.openai.respondWith(model)
    const service = await h.startService()
    await service.deliver(h.text('/code add a thing'), WEBHOOK_SECRET)
    expect(await waitForText(USER_ID, /coder is not set up/)).toMatch(/GIT_REMOTE_URL/)
  })
})

describe('pull requests on a GitHub emulator (GITHUB_API_URL, GITHUB_REPOSITORY)', () => {
  let github: GitHubEmulator
  beforeEach(async () => {
    github = await GitHubEmulator.start()
    github.addRepository('acme/widgets', remote.bare, { token: GIT_TOKEN })
  })
  afterEach(() => github.close())

  const prEnv = (dir: string, extra: Record<string, string> = {}) => ({ AIDER_BIN: fakeAider(dir), GITHUB_API_URL: github.url, GITHUB_REPOSITORY: 'acme/widgets', ...extra })

  test('Open PR pushes the task branch and opens a pull request into main, with the plan and who approved; the chat gets its link', async () => {
    const service = await start(prEnv(mkdtempSync(join(tmpdir(), 'fake-aider-'))))
    const { taskId } = await approvedPlan(service, 'add the notes file')
    const review = await buttonsMessage(2)
    expect(Object.keys(review.buttons)).toEqual(['Open PR', 'Discard']) // no push branch set: a pull request, or nothing
    expect(review.text).toContain(`Open a pull request for the change of task ${taskId} into main? Discard deletes it.`)
    await service.deliver(h.press(review.messageId, review.buttons['Open PR']!), WEBHOOK_SECRET)
    const told = await waitForText(USER_ID, new RegExp(`^Task ${taskId}: pull request #1 opened`))
    expect(told).toBe(`Task ${taskId}: pull request #1 opened from mechanic/${taskId}: https://github.com/acme/widgets/pull/1`)
    expect(github.pulls).toHaveLength(1)
    const pr = github.pulls[0]!
    expect(pr).toMatchObject({ owner: 'acme', repo: 'widgets', head: `mechanic/${taskId}`, base: 'main', title: 'add the notes file' })
    expect(pr.body).toContain('add the notes file')
    const approver = /approved in Telegram by (\S+)\./.exec(pr.body)?.[1]
    expect(approver).toBe('User2000') // the person who pressed, as the chat names them
    expect(pr.body).toContain('- `NOTES.md` (+1 −0)')
    expect(github.requests.every((r) => r.authorization === `token ${GIT_TOKEN}`)).toBe(true)
    // The branch is on the remote with the change; main is untouched.
    expect(git(remote.bare, 'ls-tree', '--name-only', `mechanic/${taskId}`).split('\n').sort()).toEqual(['NOTES.md', 'README.md'])
    expect(git(remote.bare, 'ls-tree', '--name-only', 'main')).toBe('README.md')
    expect((await h.telegram.waitForCall('editMessageText', (c) => (c.shown?.text ?? '').includes(`Pull request approved by ${approver}`))).params.chat_id).toBe(USER_ID)
  })

  test('GitHub refusing the pull request is said in one sentence and the change waits again: Open PR retries, Discard takes the branch back', async () => {
    const service = await start(prEnv(mkdtempSync(join(tmpdir(), 'fake-aider-'))))
    const { taskId } = await approvedPlan(service, 'add the notes file')
    const review = await buttonsMessage(2)
    github.refuseNext(403, 'Resource not accessible by personal access token')
    await service.deliver(h.press(review.messageId, review.buttons['Open PR']!), WEBHOOK_SECRET)
    expect(await waitForText(USER_ID, new RegExp(`^Task ${taskId}: GitHub did not`))).toBe(
      `Task ${taskId}: GitHub did not open the pull request: Resource not accessible by personal access token. The branch mechanic/${taskId} is pushed; Open PR tries again, Discard drops the change.`,
    )
    expect(github.pulls).toEqual([])
    expect(remoteBranches()).toContain(`mechanic/${taskId}`)
    // Asked again, with the same ways to go; this time GitHub opens it.
    const again = await buttonsMessage(3)
    expect(Object.keys(again.buttons)).toEqual(['Open PR', 'Discard'])
    await service.deliver(h.press(again.messageId, again.buttons['Open PR']!), WEBHOOK_SECRET)
    expect(await waitForText(USER_ID, new RegExp(`^Task ${taskId}: pull request #1 opened`))).toContain('https://github.com/acme/widgets/pull/1')
    expect(github.pulls.map((p) => p.head)).toEqual([`mechanic/${taskId}`])

    // Another change refused, then discarded: its pushed branch is deleted from the remote.
    const other = 2001
    const second = await approvedPlan(service, 'add the notes file again', other)
    const review2 = await buttonsMessage(2, other)
    github.refuseNext(422, 'Validation Failed')
    await service.deliver(h.press(review2.messageId, review2.buttons['Open PR']!, { chatId: other, userId: other }), WEBHOOK_SECRET)
    const retry = await buttonsMessage(3, other)
    expect(remoteBranches()).toContain(`mechanic/${second.taskId}`)
    await service.deliver(h.press(retry.messageId, retry.buttons.Discard!, { chatId: other, userId: other }), WEBHOOK_SECRET)
    await waitForText(other, new RegExp(`^Task ${second.taskId} was cancelled`))
    expect(remoteBranches()).not.toContain(`mechanic/${second.taskId}`)
  })

  test('with GIT_PUSH_BRANCH set, the review offers Push and Open PR; Push still pushes to that branch', async () => {
    const service = await start(prEnv(mkdtempSync(join(tmpdir(), 'fake-aider-')), { GIT_PUSH_BRANCH: 'main' }))
    const { taskId } = await approvedPlan(service, 'add the notes file')
    const review = await buttonsMessage(2)
    expect(Object.keys(review.buttons)).toEqual(['Push', 'Open PR', 'Discard'])
    expect(review.text).toContain(`Push the change of task ${taskId} to main, or open a pull request into main? Discard deletes it.`)
    await service.deliver(h.press(review.messageId, review.buttons.Push!), WEBHOOK_SECRET)
    await waitForText(USER_ID, new RegExp(`^Task ${taskId}: pushed to main`))
    expect(github.pulls).toEqual([])
    expect(git(remote.bare, 'ls-tree', '--name-only', 'main').split('\n').sort()).toEqual(['NOTES.md', 'README.md'])
  })
})
