import { hostname } from 'node:os'
import { join } from 'node:path'
import type { Pool } from '../db/database.ts'
import { claimTask, finishStep, noteResult, recoverExpired, renewTask, requeueTask, setActivity } from '../db/tasks.ts'
import type { TaskResult, TaskRow, TaskStatus } from '../db/tasks.ts'
import { taskBranch } from '../domain/names.ts'
import { taskError } from '../domain/task-errors.ts'
import type { ModelCallReport } from '../domain/model-calls.ts'
import type { Logger } from '../logger.ts'
import { LeasedWorker } from '../worker/leased-worker.ts'
import type { AbortReason, ClaimIdentity, Unfinished } from '../worker/leased-worker.ts'
import { AiderStartError, killOrphan, runAider } from './aider.ts'
import type { AiderSettings } from './aider.ts'
import { aiderUsage, commitMessage, explainAiderOutput, parseAiderUsageLine } from './aider-output.ts'
import type { GitLock } from './git-lock.ts'
import { cachedFor } from '../cached.ts'
import type { WorkspaceDisk } from './disk.ts'
import { PullRequestError } from './pull-requests.ts'
import { UnknownRepositoryError } from './repositories.ts'
import type { RepositoryHandle, RepositorySet } from './repositories.ts'
import { RepoError } from './repository.ts'
import { runTests } from './tests.ts'
import { SandboxUnavailableError } from '../sandbox/sandbox.ts'
import type { Sandbox } from '../sandbox/sandbox.ts'

/** What the chat is shown while a task runs. */
export interface TaskProgress {
  activity: string
  /** The last lines aider printed (for the running step). */
  lines: string[]
}

export interface TaskRunnerOptions {
  pool: Pool
  lock: GitLock
  /** The repositories tasks change, each with its clone, lock key, worktrees, tests and pull requests. */
  repositories: Pick<RepositorySet, 'get' | 'clean' | 'disk'>
  aider: AiderSettings
  /** PATH for aider (config is the only reader of the environment). */
  path: string | undefined
  /** The launcher aider and the test command run through. */
  sandbox: Pick<Sandbox, 'launch'>
  /** A pull request's title and body (worded by the bot). */
  describePullRequest: (task: TaskRow) => { title: string; body: string }
  /**
   * Budgets, asked before aider runs: refused (the requester's or the agent's cap is spent; the detail
   * of an `over_budget` error), or the task's cap and what the task spent so far, watched while it runs.
   */
  budget?: { beforeRun(task: TaskRow): Promise<{ refused: string } | { taskCapUsd: number | undefined; spentUsd: number }> } | undefined
  /** The aider model's price per token, when known: aider then prints its cost, and the task's cap can be watched. */
  aiderPrice?: (() => Promise<{ input: number; output: number } | undefined>) | undefined
  /** aider's use of the model, recorded like any model call (with the task's id). */
  recordUsage?: ((call: ModelCallReport) => void) | undefined
  leaseMs: number
  pollMs: number
  /** Tasks that run at once, each in its own worktree; they wait for each other only around the short git steps. */
  concurrency?: number
  log: Logger
  /** Removes secrets from text that leaves for the chat. */
  scrub: (text: string) => string
  /** Whether a text holds one of the service's own secrets (their exact values). */
  hasSecret?: ((text: string) => boolean) | undefined
  /** Shows progress in the chat; `settle` is awaited before a step's end is recorded. */
  progress?: { update(task: TaskRow, progress: TaskProgress): void; settle(taskId: string): Promise<void> }
  /** A report was queued in a chat's inbox lane: wake the dispatcher. */
  onReported: () => void
  /** Told how long steps and aider runs took (metrics). */
  observe?: { step(step: string, status: string, ms: number): void; aider(outcome: 'done' | 'timeout' | 'stopped', ms: number): void }
  /** The process's liveness lock (shared with the dispatcher): a dead process's tasks are recovered at once. */
  liveness?: ClaimIdentity
}

type StepEnd = { status: Exclude<TaskStatus, 'queued' | 'running'>; result?: TaskResult; error?: string }

/** A patch larger than this is not a change to review on a phone. */
const MAX_PATCH_CHARS = 1_000_000
const RECENT_LINES = 6

/** Why a git step failed, as a task error code (the bot words it). */
function repoErrorCode(err: RepoError, target: string): string {
  switch (err.kind) {
    case 'conflict':
      return taskError('repo_conflict', target)
    case 'auth':
      return taskError('repo_auth')
    case 'remote':
      return taskError('repo_remote')
    case 'rejected':
      return taskError('repo_rejected', target)
    case 'state':
      return taskError('repo_state', err.message)
  }
}

/**
 * Runs tasks outside the chats' inbox lanes, so a chat stays responsive while aider works. A code
 * step works in a git worktree of its own, so tasks on one repository run side by side; the
 * repository's git lock is held only for what touches the shared clone (fetch, adding and removing
 * worktrees, and the short push and discard steps). Each step keeps its lease alive; a task whose
 * holder died is recovered as soon as that shows (`claim_held`). The claim loop itself is the shared
 * LeasedWorker.
 */
export class TaskRunner {
  readonly #o: TaskRunnerOptions
  readonly #worker: LeasedWorker<TaskRow>
  readonly #disk: { get(): Promise<WorkspaceDisk> }
  #starting: Promise<void> = Promise.resolve()
  #stopped = false

  constructor(options: TaskRunnerOptions) {
    this.#o = options
    // A walk of the clone and the worktrees: at most once a minute, however often /status is asked.
    this.#disk = cachedFor(60_000, () => options.repositories.disk())
    const { pool, leaseMs } = options
    this.#worker = new LeasedWorker<TaskRow>({
      name: 'task',
      log: options.log,
      concurrency: options.concurrency ?? 2,
      pollMs: options.pollMs,
      // Renewals are also how a runner learns of /cancel from another instance: at least every 2 s.
      renewEveryMs: Math.max(200, Math.min(2000, leaseMs / 3)),
      ...(options.liveness && { identity: options.liveness }),
      keyOf: (task) => task.id,
      housekeeping: () => this.#recover(),
      // Tasks are claimed one by one; the git lock, not the claim, decides which touches the repository first.
      claim: async (limit, claimant) => {
        const tasks: TaskRow[] = []
        while (tasks.length < limit) {
          const task = await claimTask(pool, claimant, leaseMs)
          if (!task) break
          tasks.push(task)
        }
        return tasks
      },
      renew: (task, claimant) => renewTask(pool, task.id, claimant, leaseMs),
      // A push or discard is short and must not stop half-way: only the code step is cancellable.
      abortOn: (task, result) => result === 'lost' || task.step === 'code',
      run: (task, signal) => this.#run(task, signal),
      handBack: (unfinished, claimant) => this.#handBack(unfinished, claimant),
    })
  }

  /** Removes the worktrees a crash left behind, then starts claiming (unless stopped meanwhile). */
  start(): void {
    this.#starting = this.#o.repositories
      .clean((key, work) => this.#withLock(key, undefined, work))
      .then((removed) => {
        if (removed) this.#o.log.info({ removed }, 'worktrees left by an earlier run removed')
      })
      .catch((err: unknown) => this.#o.log.warn({ err }, 'could not remove old worktrees'))
      .finally(() => {
        if (!this.#stopped) this.#worker.start()
      })
  }

  /** Look for work now (a task was queued or decided). */
  wake(): void {
    this.#worker.wake()
  }

  /** The disk the clone and the running tasks' worktrees take (read at most once a minute). */
  disk(): Promise<WorkspaceDisk> {
    return this.#disk.get()
  }

  /** Ids of the tasks this process runs now. */
  active(): string[] {
    return this.#worker.keys()
  }

  /**
   * Stops claiming, gives running steps `graceMs` to finish, then stops aider and hands the rest back
   * to the queue, where the next instance picks them up from a clean clone.
   */
  async stop(graceMs: number): Promise<void> {
    this.#stopped = true
    await this.#starting
    await this.#worker.stop(graceMs)
  }

  /** A stopped step first cleans up (aider killed, branch deleted), then its task is queued again. */
  async #handBack(unfinished: Array<Unfinished<TaskRow>>, claimant: string): Promise<number> {
    const back = await Promise.all(
      unfinished.map(async ({ job: task, settled }) => {
        await settled
        if (!(await requeueTask(this.#o.pool, task.id, claimant))) return false
        this.#o.log.info({ taskId: task.id, step: task.step, chatId: task.chatId }, 'task handed back at shutdown')
        return true
      }),
    )
    return back.filter(Boolean).length
  }

  /** Tasks whose runner died are failed and told; an orphaned aider on this host is killed. */
  async #recover(): Promise<void> {
    const recovered = await recoverExpired(this.#o.pool)
    if (!recovered.length) return
    const killed = recovered.filter((t) => t.result?.aiderPid && t.result.aiderHost === hostname() && killOrphan(t.result.aiderPid, this.#o.aider.bin))
    this.#o.log.warn({ tasks: recovered.map((t) => t.id), orphansKilled: killed.map((t) => t.id) }, 'tasks whose runner died were marked failed')
    this.#o.onReported()
  }

  async #run(task: TaskRow, signal: AbortSignal): Promise<void> {
    const log = this.#o.log.child({ taskId: task.id, step: task.step, chatId: task.chatId })
    const started = performance.now()
    let end: StepEnd | undefined
    try {
      log.info('task step started')
      end = await this.#step(task, signal, log)
    } catch (err) {
      const reason = signal.aborted ? (signal.reason as AbortReason) : undefined
      if (reason === 'shutdown') {
        // #handBack queues it again once this step has cleaned up.
      } else if (reason === 'lost') {
        log.warn('task lease lost; another instance took it over')
      } else if (reason === 'cancel') {
        end = { status: 'cancelled', error: taskError('cancelled_running') }
      } else if (err instanceof RepoError) {
        log.error({ err, kind: err.kind }, 'git step failed')
        end = { status: 'failed', error: repoErrorCode(err, this.#target(task)) }
      } else if (err instanceof UnknownRepositoryError) {
        log.warn({ repository: task.repository }, 'the task\'s repository was removed')
        end = { status: 'failed', error: taskError('repo_unknown', task.repository ?? '') }
      } else if (err instanceof SandboxUnavailableError) {
        log.error({ err }, 'the sandbox is unavailable: aider and tests are refused')
        end = { status: 'failed', error: taskError('sandbox_unavailable') }
      } else if (err instanceof AiderStartError) {
        log.error({ err }, 'aider could not start')
        end = { status: 'failed', error: taskError('aider_start') }
      } else {
        log.error({ err }, 'task step failed')
        end = { status: 'failed', error: taskError('unexpected') }
      }
    } finally {
      await this.#o.progress?.settle(task.id)
    }
    const ms = performance.now() - started
    this.#o.observe?.step(task.step, end?.status ?? 'handed back', ms)
    if (!end) return
    const row = await finishStep(this.#o.pool, { id: task.id, claimant: this.#worker.claimant, ...end })
    log.info({ status: end.status, ms: Math.round(ms), recorded: row !== undefined }, 'task step ended')
    if (row) this.#o.onReported()
  }

  /**
   * The ways a change may go, recorded with it for its approval: a pull request into its base branch
   * where pull requests are set up, and a push (to GIT_PUSH_BRANCH, or the task's own branch) unless
   * only a pull request makes sense (no push branch was configured).
   */
  #routes(h: RepositoryHandle, branch: string, base: string): { pushTarget?: string; pullRequestInto?: string } {
    const { pushBranch, pullRequests } = h
    return { ...((!pullRequests || pushBranch) && { pushTarget: pushBranch ?? branch }), ...(pullRequests && { pullRequestInto: base }) }
  }

  /** Where the change goes: what the person saw when asked (recorded), else the task's own branch. */
  #target(task: TaskRow): string {
    return task.result?.pushTarget ?? task.result?.branch ?? taskBranch(task.id)
  }

  #activity(task: TaskRow, activity: string, lines: string[] = []): void {
    this.#o.progress?.update(task, { activity, lines })
    void setActivity(this.#o.pool, task.id, this.#worker.claimant, activity).catch((err: unknown) => this.#o.log.warn({ err, taskId: task.id }, 'could not record the task activity'))
  }

  /** Runs `work` while holding the repository; waiting for it shows in /tasks. */
  #withRepository<T>(task: TaskRow, h: RepositoryHandle, signal: AbortSignal | undefined, work: () => Promise<T>): Promise<T> {
    return this.#withLock(h.lockKey, signal, work, () => this.#activity(task, 'waiting for the repository'))
  }

  async #withLock<T>(key: string, signal: AbortSignal | undefined, work: () => Promise<T>, onWait?: () => void): Promise<T> {
    const held = await this.#o.lock.acquire(key, { ...(signal && { signal }), ...(onWait && { onWait }) })
    try {
      signal?.throwIfAborted()
      return await work()
    } finally {
      await held.release()
    }
  }

  async #step(task: TaskRow, signal: AbortSignal, log: Logger): Promise<StepEnd> {
    const h = await this.#o.repositories.get(task.repository)
    const { repo } = h
    const branch = task.result?.branch ?? task.input.continues?.branch ?? taskBranch(task.id)
    if (task.step === 'discard') {
      return this.#withRepository(task, h, signal, async () => {
        this.#activity(task, 'discarding the change')
        if (task.result?.baseBranch) await repo.deleteBranch(branch, task.result.baseBranch).catch((err: unknown) => log.warn({ err }, 'could not delete the task branch'))
        // A pull request GitHub refused left the branch pushed by this task: discarding takes it back. A
        // follow-up of a change pushed before leaves that branch (and its pull request) as it was.
        const deleted = task.result?.pushedTo === branch && (await repo.deleteRemoteBranch(branch).then(() => true, (err: unknown) => void log.warn({ err }, 'could not delete the pushed task branch')))
        return { status: 'cancelled', error: deleted ? taskError('discarded', branch) : taskError('discarded') }
      })
    }
    if (task.step === 'push') {
      const { baseSha, patch } = task.result ?? {}
      if (!baseSha || !patch) return { status: 'failed', error: taskError('no_change_to_push') }
      const target = this.#target(task)
      const { pushedSha } = await this.#pushChange(task, h, { branch, baseSha, patch, target }, signal, log)
      return { status: 'completed', result: { pushedTo: target, pushedSha } }
    }
    if (task.step === 'pr') return this.#pullRequest(task, h, branch, log)
    return this.#code(task, h, branch, signal)
  }

  /**
   * Rebuilds the change on the clone from its patch and pushes it to `target`, under the lock; the
   * local branch goes afterwards. Returns the pushed commit and the remote's default branch.
   */
  #pushChange(task: TaskRow, h: RepositoryHandle, c: { branch: string; baseSha: string; patch: string; target: string }, signal: AbortSignal | undefined, log: Logger): Promise<{ pushedSha: string; base: string }> {
    const { repo } = h
    return this.#withRepository(task, h, signal, async () => {
      this.#activity(task, `pushing to ${c.target}`)
      const { base } = await repo.prepare()
      await repo.applyPatch(c.branch, c.baseSha, c.patch)
      const pushedSha = await repo.push(c.target)
      await repo.deleteBranch(c.branch, base).catch((err: unknown) => log.warn({ err }, 'could not delete the task branch'))
      return { pushedSha, base }
    })
  }

  /**
   * Pushes the task's branch (rebuilt from its patch, under the lock) and opens a pull request from it
   * into the branch the change was made on. A refusal fails the task with GitHub's reason; the branch
   * stays on the remote.
   */
  async #pullRequest(task: TaskRow, h: RepositoryHandle, branch: string, log: Logger): Promise<StepEnd> {
    const { baseSha, patch } = task.result ?? {}
    const prs = h.pullRequests
    if (!baseSha || !patch) return { status: 'failed', error: taskError('no_change_to_push') }
    if (!prs) return { status: 'failed', error: taskError('pr_off') }
    const { pushedSha, base } = await this.#pushChange(task, h, { branch, baseSha, patch, target: branch }, undefined, log)
    this.#activity(task, 'opening a pull request')
    const described = this.#o.describePullRequest(task)
    const { title, body } = { title: this.#o.scrub(described.title), body: this.#o.scrub(described.body) }
    try {
      const pr = await prs.open({ head: branch, base: task.result?.baseBranch ?? base, title, body })
      log.info({ pullRequest: pr.number }, 'pull request opened')
      return { status: 'completed', result: { pushedTo: branch, pushedSha, pullRequest: pr } }
    } catch (err) {
      if (!(err instanceof PullRequestError)) throw err
      // The change waits again, its branch pushed: the person may try again or discard it.
      log.error({ err, kind: err.kind, status: err.status }, 'the pull request could not be opened')
      const error = err.kind === 'auth' ? taskError('pr_auth') : err.kind === 'refused' ? taskError('pr_refused', err.message) : taskError('pr_unavailable')
      return { status: 'waiting', error, result: { pushedTo: branch, pushedSha, prRefusals: (task.result?.prRefusals ?? 0) + 1 } }
    }
  }

  /**
   * Writes the change: a worktree of the remote's newest state on the task's branch (made under the
   * lock), one aider run there (not under the lock), judged by git; the worktree goes when the step
   * ends, whatever the outcome: the change lives on as the patch in the task's row.
   */
  async #code(task: TaskRow, h: RepositoryHandle, branch: string, signal: AbortSignal): Promise<StepEnd> {
    const { repo } = h
    const tree = join(h.worktrees, task.id)
    const continues = task.input.continues
    // A follow-up's worktree has a local branch of its own: two follow-ups of one pushed change may run
    // at once, and git keeps a branch to one worktree. The remote branch (`branch`) is what they share.
    const local = continues ? taskBranch(task.id) : branch
    const { base, baseSha } = await this.#withRepository(task, h, signal, async () => {
      this.#activity(task, 'preparing the repository')
      const fetched = await repo.fetchBase()
      const t0 = performance.now()
      // A follow-up starts where the change it continues left off: the same base, with that change applied.
      const start = continues ? { base: continues.baseBranch, baseSha: continues.baseSha } : fetched
      await repo.addWorktree(tree, local, start.baseSha)
      this.#o.log.info({ taskId: task.id, ms: Math.round(performance.now() - t0), continues: continues?.taskId }, 'worktree added')
      return start
    })
    try {
      if (continues) await repo.applyPatchIn(tree, continues.patch)
      return await this.#edit(task, h, { tree, base, baseSha, branch, local }, signal)
    } finally {
      // No signal: a cancelled or stopping step still leaves the repository tidy (a short wait at most).
      await this.#withLock(h.lockKey, undefined, () => repo.removeWorktree(tree, local)).catch((err: unknown) => this.#o.log.warn({ err, taskId: task.id }, 'could not remove the worktree'))
    }
  }

  async #edit(task: TaskRow, h: RepositoryHandle, at: { tree: string; base: string; baseSha: string; branch: string; local: string }, signal: AbortSignal): Promise<StepEnd> {
    const { aider, path, scrub, sandbox } = this.#o
    const { repo } = h
    const { tree, base, baseSha, branch, local } = at
    // (A follow-up that fails keeps the change it started from in its input: continuationOf goes on from there.)
    const allowance = await this.#o.budget?.beforeRun(task)
    if (allowance && 'refused' in allowance) return { status: 'failed', error: taskError('over_budget', allowance.refused) }
    const price = await this.#o.aiderPrice?.()
    // The task's cap, watched on aider's own cost lines: past it, aider is stopped mid-run.
    const cap = allowance?.taskCapUsd
    const before = allowance?.spentUsd ?? 0
    const overBudget = new AbortController()
    let sessionCost = 0
    this.#activity(task, 'running aider')
    const recent: string[] = []
    const aiderStarted = performance.now()
    const run = await runAider(
      { ...aider, price },
      {
        cwd: tree,
        git: repo.worktreeGit(tree),
        instructions: task.input.instructions,
        files: task.input.files,
        signal: AbortSignal.any([signal, overBudget.signal]),
        onStart: (pid) => void noteResult(this.#o.pool, task.id, this.#worker.claimant, { aiderPid: pid, aiderHost: hostname() }).catch(() => undefined),
        onLine: (line) => {
          if (!line.trim()) return
          const used = parseAiderUsageLine(line)
          if (used?.sessionCost !== undefined) sessionCost = used.sessionCost
          if (cap !== undefined && before + sessionCost > cap && !overBudget.signal.aborted) overBudget.abort()
          recent.push(scrub(line).slice(0, 200))
          if (recent.length > RECENT_LINES) recent.shift()
          this.#o.progress?.update(task, { activity: 'running aider', lines: [...recent] })
        },
      },
      path,
      sandbox,
    )
    this.#o.observe?.aider(run.timedOut ? 'timeout' : signal.aborted || overBudget.signal.aborted ? 'stopped' : 'done', performance.now() - aiderStarted)
    const used = aiderUsage(run.output)
    this.#o.recordUsage?.({
      agent: task.agent,
      model: aider.model,
      chatId: task.chatId,
      userId: task.requesterId,
      taskId: task.id,
      inputTokens: used.inputTokens,
      outputTokens: used.outputTokens,
      ms: run.durationMs,
      // aider's figure is our price times its tokens; without a price the cost stays unknown.
      ...(price && used.sessionCost !== undefined && { cost: used.sessionCost, costSource: 'price' as const }),
    })
    signal.throwIfAborted()
    if (overBudget.signal.aborted) {
      const spent = before + (used.sessionCost ?? sessionCost)
      return { status: 'failed', error: taskError('over_budget', `task|task|${spent.toFixed(6)}|${cap ?? 0}`), result: { aiderMs: run.durationMs } }
    }
    const explanation = scrub(explainAiderOutput(run.output))
    if (run.timedOut) {
      return { status: 'failed', error: taskError('aider_timeout', Math.round(aider.timeoutMs / 1000)), result: { aiderMs: run.durationMs } }
    }
    // aider had the worktree's git directory: git state is ours again before anything of it is read.
    await repo.reclaimWorktree(tree, local)
    const made = await repo.commitAll(commitMessage(task.id, task.input.instructions), tree)
    if (!made && run.exitCode !== 0) return { status: 'failed', error: taskError('aider_failed', run.exitCode ?? 'none'), result: { explanation, aiderMs: run.durationMs } }
    // Nothing new: a fresh task has no change; a follow-up still has the one it continues, shown again for review.
    if (!made && !task.input.continues) return { status: 'completed', result: { files: [], added: 0, removed: 0, explanation, aiderMs: run.durationMs } }
    const commit = made ?? (await repo.head(tree))
    const changes = await repo.changes(baseSha, tree)
    const patch = await repo.formatPatch(baseSha, tree)
    // Before the tests: a change too large to review is not worth their minutes.
    if (patch.length > MAX_PATCH_CHARS) {
      return { status: 'failed', error: taskError('too_large', Math.round(patch.length / 1000)) }
    }
    // A change that carries one of the service's secrets is never shown, pushed or opened as a pull request.
    if (this.#o.hasSecret?.(patch)) {
      this.#o.log.error({ taskId: task.id }, 'the change contains a secret of the service; refused')
      return { status: 'failed', error: taskError('secret_in_change'), result: { aiderMs: run.durationMs } }
    }
    const tests = await this.#test(task, h, tree, signal)
    return {
      status: 'waiting',
      result: { branch, ...this.#routes(h, branch, base), baseBranch: base, baseSha, commitSha: commit, files: changes.files, added: changes.added, removed: changes.removed, explanation, patch, aiderMs: run.durationMs, ...(tests && { tests }) },
    }
  }

  /**
   * Runs the test command on the changed worktree, after aider (not through aider's --test-cmd: that
   * makes aider try to fix a failure with more model calls, unbounded; here the person sees the result
   * and decides). Its output is scrubbed of secrets before it is kept.
   */
  async #test(task: TaskRow, h: RepositoryHandle, tree: string, signal: AbortSignal): Promise<TaskResult['tests']> {
    const settings = h.tests
    if (!settings) return undefined
    this.#activity(task, 'running the tests')
    const run = await runTests(settings, { cwd: tree, git: h.repo.worktreeGit(tree), path: this.#o.path, signal, sandbox: this.#o.sandbox })
    signal.throwIfAborted()
    this.#o.log.info({ taskId: task.id, passed: run.passed, exitCode: run.exitCode, timedOut: run.timedOut, ms: run.ms }, 'tests ran')
    return { ...run, tail: this.#o.scrub(run.tail) }
  }
}
