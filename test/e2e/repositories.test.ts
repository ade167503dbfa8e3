import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, test } from 'vitest'
import { CoderWorld, textOf } from '../support/coder.ts'
import { ADMIN_ID, USER_ID, WEBHOOK_SECRET } from '../support/harness.ts'
import type { Harness } from '../support/harness.ts'
import { waitUntil } from '../support/http.ts'
import { AIDER_BIN, createRemote, git } from '../support/git.ts'
import type { ServiceProcess } from '../support/service.ts'

const world = new CoderWorld()
let h: Harness
const { start, buttonsMessage, waitForText, approvedPlan, remoteBranches, query } = world

beforeEach(async () => {
  await world.setUp()
  h = world.h
})
afterEach(() => world.tearDown())

/** Sends `text` as `userId` and returns the bot's next message in that chat. */
const say = (service: ServiceProcess, text: string, userId = ADMIN_ID) => h.say(service, text, { userId })

/** The files on a remote branch, sorted. */
const filesOn = (bare: string, branch: string) => git(bare, 'ls-tree', '--name-only', branch).split('\n').sort()

describe('several repositories (/repos, /repo, /code name: …)', () => {
  test('/repos is for admins, refuses addresses with credentials and remotes that do not answer, and lists what it added', async () => {
    const service = await start({ GIT_REPOSITORY_NAME: 'app' })
    expect(await say(service, '/repos', USER_ID)).toBe('That command is for admins only.')
    expect(await say(service, '/repos add web https://bob:hunter2-token@git.example.test/acme/web.git')).toMatch(/^The address holds credentials\. Give it without them.*tokens never go into the database\.$/)
    expect(await say(service, '/repos add web ext::sh -c touch% /tmp/pwned')).toMatch(/^\/repos: the repositories/) // not one address: the usage
    expect(await say(service, '/repos add web ext::sh')).toBe('That is not a repository address I can use: give an https://, ssh:// or git@host: address, or an absolute path.')
    expect(await say(service, '/repos add Web /tmp/x')).toMatch(/^A repository's name is 2 to 32 lowercase letters/)
    expect(await say(service, '/repos add web /nonexistent/repo.git')).toBe('The remote did not answer as a git repository; check the address.')
    expect(await say(service, '/repos add app /tmp/x')).toBe('There is already a repository called app.')
    const web = createRemote()
    expect(await say(service, `/repos add web ${web.url} acme/web`)).toBe('Added web (default branch main). Ask for a change with /code web: ….')
    const list = await say(service, '/repos')
    expect(list).toContain(`app (configured): ${world.remote.url}\n  tests: none · pull requests: off`)
    // GitHub repository given, and GIT_ACCESS_TOKEN for a local address: its pull requests go to acme/web.
    expect(list).toContain(`web: ${web.url}\n  tests: none · pull requests: acme/web`)
    // Nothing secret was stored: the table holds names and addresses only.
    expect(await query('select name, url, github_repository from repositories order by name')).toEqual([{ name: 'web', url: web.url, github_repository: 'acme/web' }])
    const audit = await query<{ action: string }>(`select action from audit_log where action like 'repository%'`)
    expect(audit.map((a) => a.action)).toEqual(['repository_added'])
    expect(h.allOutput()).not.toContain('hunter2-token')
  })

  test.skipIf(!AIDER_BIN)('two tasks on two repositories run side by side and each lands on its own remote; a request without a name asks which', async () => {
    const service = await start({ GIT_REPOSITORY_NAME: 'app' })
    const web = createRemote()
    expect(await say(service, `/repos add web ${web.url}`)).toMatch(/^Added web/)
    const one = await approvedPlan(service, 'web: add a WEB.md saying on the web', 2001)
    expect(one.plan.text).toMatch(/Change web with aider: add a WEB\.md saying on the web/)
    expect(one.queued).toMatch(/is queued in web:/)
    const two = await approvedPlan(service, 'app: add a APP.md saying in the app', 2002)
    expect(two.plan.text).toMatch(/Change app with aider: add a APP\.md saying in the app/)
    await waitUntil(async () => (await query(`select 1 from tasks where activity = 'running aider'`)).length === 2 || undefined, 'two aider runs at once', 30_000)
    const [pushWeb, pushApp] = [await buttonsMessage(2, 2001), await buttonsMessage(2, 2002)]
    await service.deliver(h.press(pushWeb.messageId, pushWeb.buttons.Push!, { chatId: 2001, userId: 2001 }), WEBHOOK_SECRET)
    await service.deliver(h.press(pushApp.messageId, pushApp.buttons.Push!, { chatId: 2002, userId: 2002 }), WEBHOOK_SECRET)
    await waitForText(2001, /pushed to/)
    await waitForText(2002, /pushed to/)
    expect(filesOn(web.bare, `mechanic/${one.taskId}`)).toEqual(['README.md', 'WEB.md'])
    expect(filesOn(world.remote.bare, `mechanic/${two.taskId}`)).toEqual(['APP.md', 'README.md'])
    expect(remoteBranches(web.bare)).not.toContain(`mechanic/${two.taskId}`)
    expect(await query('select id, repository from tasks order by repository nulls first')).toEqual([
      { id: two.taskId, repository: null },
      { id: one.taskId, repository: 'web' },
    ])

    // With two repositories and no default, a request that names none asks; the button decides.
    await service.deliver(h.text('/code add a PICKED.md saying chosen', { userId: 2003 }), WEBHOOK_SECRET)
    const question = await buttonsMessage(1, 2003)
    expect(question.text).toBe('Which repository is this for? (Set a default for this chat with /repo name.)')
    expect(Object.keys(question.buttons)).toEqual(['app', 'web'])
    // Someone else's press does nothing; the asker's picks web.
    await service.deliver(h.press(question.messageId, question.buttons.web!, { chatId: 2003, userId: 2002 }), WEBHOOK_SECRET)
    expect((await h.telegram.waitForCall('answerCallbackQuery', (c) => c.params.show_alert === true)).params.text).toMatch(/no longer open \(or not yours\)/)
    await service.deliver(h.press(question.messageId, question.buttons.web!, { chatId: 2003, userId: 2003 }), WEBHOOK_SECRET)
    const plan = await buttonsMessage(2, 2003)
    expect(plan.text).toMatch(/Change web with aider: add a PICKED\.md saying chosen/)
    await waitUntil(async () => (await query<{ n: number }>('select count(*)::int as n from parked_code_requests'))[0]?.n === 0 || undefined, 'the parked request used up')

    // /repo sets the chat's default: the next request goes there without asking.
    expect(await say(service, '/repo web', 2003)).toBe("This chat's requests go to web from now on, unless one says /code other: ….")
    await service.deliver(h.press(plan.messageId, plan.buttons.Reject!, { chatId: 2003, userId: 2003 }), WEBHOOK_SECRET)
    await waitForText(2003, /did not approve/)
    const third = await approvedPlan(service, 'add a DEFAULT.md saying here', 2003, { planNumber: 3 })
    expect(third.plan.text).toMatch(/Change web with aider: add a DEFAULT\.md saying here/)

    // A repository with unfinished tasks stays; once they are over it goes, clone and all.
    expect(await say(service, '/repos remove web')).toBe('web has 1 unfinished task(s). Let them end, or cancel or discard them, then remove it.')
    expect(await say(service, '/repos remove app')).toBe('app is the configured repository (GIT_REMOTE_URL); it cannot be removed from here.')
    const review = await buttonsMessage(4, 2003)
    await service.deliver(h.press(review.messageId, review.buttons.Discard!, { chatId: 2003, userId: 2003 }), WEBHOOK_SECRET)
    await waitForText(2003, /was cancelled: Discarded/)
    expect(existsSync(join(world.workspace, 'repos', 'web', 'repo'))).toBe(true)
    expect(await say(service, '/repos remove web')).toBe('Removed web and its clone.')
    expect(existsSync(join(world.workspace, 'repos', 'web'))).toBe(false)
    expect(await query('select * from chat_repositories')).toEqual([])
    expect(await say(service, '/repo', 2003)).toBe('Requests go to app, the only repository.\nRepositories: app. Set one with /repo name, or /repo off.')
  })

  test('the repository a /code named holds for the conversation: a plan proposed after a clarifying question still goes there', async () => {
    const service = await start({ GIT_REPOSITORY_NAME: 'app' })
    const web = createRemote()
    await say(service, `/repos add web ${web.url}`)
    h.openai.enqueue({ content: 'Which file should it go in?' })
    expect(await h.say(service, '/code web: add a greeting')).toBe('[coder] Which file should it go in?')
    // The answer goes to the coder without /code and without a name; the model proposes the plan now.
    await service.deliver(h.text('@coder add a HELLO.md saying hi'), WEBHOOK_SECRET)
    expect((await buttonsMessage(1)).text).toMatch(/Change web with aider: .*add a HELLO\.md saying hi/)
  })

  test.skipIf(!AIDER_BIN)('/repos test sets a repository\'s test command: the summary shows it passed; "off" clears it', async () => {
    const service = await start({ GIT_REPOSITORY_NAME: 'app' })
    const web = createRemote()
    await say(service, `/repos add web ${web.url}`)
    expect(await say(service, '/repos test web test -f WEB.md && echo "all good"')).toBe('web: test -f WEB.md && echo "all good" runs after each of aider\'s edits from now on.')
    expect(await say(service, '/repos')).toContain('tests: test -f WEB.md && echo "all good"')
    await approvedPlan(service, 'web: add a WEB.md saying tested')
    expect(await waitForText(USER_ID, /is ready for review/)).toMatch(/\n\nTests: passed in \d+\.\d s/)
    // The configured repository has none: its tasks run no tests.
    expect(await say(service, '/repos test nope true')).toBe('There is no repository called nope.')
    expect(await say(service, '/repos test web off')).toBe('web: no test command from now on.')
    expect(await query('select name, test_command from repositories')).toEqual([{ name: 'web', test_command: null }])
  })
})

describe.skipIf(!AIDER_BIN)('follow-ups: a reply to a task continues its branch', () => {
  test('a reply to the summary supersedes the change under review; the follow-up builds on it and Push lands both on the same branch', async () => {
    const service = await start()
    const { taskId } = await approvedPlan(service, 'add a ONE.md saying first')
    const summary = await waitForText(USER_ID, /is ready for review/)
    const firstPush = await buttonsMessage(2)
    const summaryId = (h.telegram.callsOf('sendMessage').find((c) => textOf(c) === summary)!.result as { message_id: number }).message_id

    // A reply is asked about first: a "thanks!" must not start a run.
    await service.deliver(h.text('add a TWO.md saying second', { replyTo: summaryId }), WEBHOOK_SECRET)
    const question = await buttonsMessage(3)
    expect(question.text).toBe(`Continue task ${taskId} on its branch with this? aider takes your words as they are, and you review the result before anything is pushed.`)
    expect(Object.keys(question.buttons)).toEqual(['Continue', 'No'])
    const before = h.telegram.sentTexts(USER_ID).length
    await service.deliver(h.press(question.messageId, question.buttons.Continue!), WEBHOOK_SECRET)
    const told = (await h.telegram.waitForTexts(USER_ID, before + 1))[before]!
    const next = /^Task (\w+) continues (\w+) on mechanic\/(\w+):/.exec(told)
    expect(next?.slice(2)).toEqual([taskId, taskId])
    const followId = next![1]!
    // The first change's approval is withdrawn, not pushed or discarded.
    await waitUntil(() => h.telegram.callsOf('editMessageText').find((c) => c.params.message_id === firstPush.messageId && /Cancelled/.test(textOf(c))), 'the first approval withdrawn')

    const second = await waitForText(USER_ID, new RegExp(`^Task ${followId} is ready for review`))
    expect(second).toMatch(/2 files changed, \+2 −0\n• ONE\.md \(\+1 −0\)\n• TWO\.md \(\+1 −0\)/)
    const push = await buttonsMessage(4)
    expect(push.text).toMatch(new RegExp(`Push the change of task ${followId} to mechanic/${taskId}\\?`))
    await service.deliver(h.press(push.messageId, push.buttons.Push!), WEBHOOK_SECRET)
    await waitForText(USER_ID, new RegExp(`^Task ${followId}: pushed to mechanic/${taskId}`))
    expect(filesOn(world.remote.bare, `mechanic/${taskId}`)).toEqual(['ONE.md', 'README.md', 'TWO.md'])
    expect(git(world.remote.bare, 'log', '--format=%s', `main..mechanic/${taskId}`).split('\n')).toEqual(['add a TWO.md saying second', 'add a ONE.md saying first'])
    expect(await query('select id, status, error from tasks order by created_at')).toEqual([
      { id: taskId, status: 'cancelled', error: `superseded:${followId}` },
      { id: followId, status: 'completed', error: null },
    ])
    // The superseded task is not reported as cancelled: the person asked for its successor.
    expect(h.telegram.sentTexts(USER_ID).filter((t) => t.startsWith(`Task ${taskId} was cancelled`))).toEqual([])

    // /code more continues a pushed change: another commit on the same branch, pushed without force.
    await service.deliver(h.text(`/code more ${followId}: add a THREE.md saying third`), WEBHOOK_SECRET)
    const third = /^Task (\w+) continues/.exec(await waitForText(USER_ID, new RegExp(`continues ${followId} on mechanic/${taskId}`)))![1]!
    await waitForText(USER_ID, new RegExp(`^Task ${third} is ready for review: 3 files changed`))
    const pushThird = await buttonsMessage(5)
    await service.deliver(h.press(pushThird.messageId, pushThird.buttons.Push!), WEBHOOK_SECRET)
    await waitForText(USER_ID, new RegExp(`^Task ${third}: pushed to mechanic/${taskId}`))
    expect(git(world.remote.bare, 'log', '--format=%s', `main..mechanic/${taskId}`).split('\n')).toEqual(['add a THREE.md saying third', 'add a TWO.md saying second', 'add a ONE.md saying first'])
  })

  test('only the asker or an admin may follow up; an unknown task says so; No leaves it; Discard of a follow-up keeps what was pushed before', async () => {
    const service = await start()
    const { taskId } = await approvedPlan(service, 'add a ONE.md saying first')
    const push = await buttonsMessage(2)
    await service.deliver(h.press(push.messageId, push.buttons.Push!), WEBHOOK_SECRET)
    await waitForText(USER_ID, /^\[coder\] follow-up: .*pushed to/) // the agent's note on the push, last
    expect(await h.say(service, '/code more zzzzzz: add a X.md saying x')).toBe('There is no task zzzzzz in this chat.')
    // Another person in a group cannot continue it.
    const group = -100777
    const other = await approvedPlan(service, 'add a G.md saying group', 2001, { chatId: group })
    const groupPush = await buttonsMessage(2, group)
    await service.deliver(h.press(groupPush.messageId, groupPush.buttons.Push!, { chatId: group, userId: 2001 }), WEBHOOK_SECRET)
    await waitForText(group, /^\[coder\] follow-up: .*pushed to/)
    expect(await h.say(service, `/code more ${other.taskId}: add a Y.md saying y`, { chatId: group, userId: 2002 })).toBe(`Only the person who asked for task ${other.taskId}, or an admin, can continue it.`)

    // A "No" to the question after a reply leaves everything as it was.
    const endMessage = h.telegram.callsOf('sendMessage').find((c) => textOf(c).startsWith(`Task ${taskId}: pushed`))!
    await service.deliver(h.text('thanks!', { replyTo: (endMessage.result as { message_id: number }).message_id }), WEBHOOK_SECRET)
    const question = await buttonsMessage(3)
    await service.deliver(h.press(question.messageId, question.buttons.No!), WEBHOOK_SECRET)
    await waitUntil(() => h.telegram.callsOf('editMessageText').find((c) => c.params.message_id === question.messageId && textOf(c) === `Task ${taskId} is left as it is.`), 'the question answered')
    expect(await query('select count(*)::int as n from tasks')).toEqual([{ n: 2 }])

    const pushed = git(world.remote.bare, 'rev-parse', `mechanic/${taskId}`)
    await service.deliver(h.text(`/code more ${taskId}: add a TWO.md saying second`), WEBHOOK_SECRET)
    const follow = /^Task (\w+) continues/.exec(await waitForText(USER_ID, /continues/))![1]!
    const review = await buttonsMessage(4)
    await service.deliver(h.press(review.messageId, review.buttons.Discard!), WEBHOOK_SECRET)
    // Discarding the follow-up drops its own commits only: the branch pushed before (and any pull request on it) stays as it was.
    expect(await waitForText(USER_ID, new RegExp(`^Task ${follow} was cancelled`))).toBe(`Task ${follow} was cancelled: Discarded; nothing was pushed.`)
    expect(git(world.remote.bare, 'rev-parse', `mechanic/${taskId}`)).toBe(pushed)
  })
})
