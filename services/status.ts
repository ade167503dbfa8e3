import type { Database } from '../db/database.ts'
import { stats } from '../db/inbox.ts'
import type { InboxStats } from '../db/inbox.ts'
import type { TaskStatus } from '../db/tasks.ts'
import type { Agents } from './agents.ts'
import type { Approvals } from './approvals.ts'
import type { Tasks } from './tasks.ts'
import type { Schedules } from './schedules.ts'
import type { Usage } from './usage.ts'
import type { SandboxState } from '../sandbox/sandbox.ts'

/** What /status shows: plain figures; the bot words them. */
export interface StatusFigures {
  version: string
  commit: string | undefined
  uptimeSeconds: number
  database: { kind: Database['kind']; pingMs: number }
  inbox: InboxStats
  dispatcher: { healthy: boolean; active: number }
  tasks: Record<TaskStatus, number>
  approvalsPending: number
  model: string
  modelFailuresLastHour: number
  schedules: { active: number; paused: number; failing: number; next: Date | null }
  /** The coder's disk, when a repository is configured. */
  workspace: { cloneBytes: number; worktreeBytes: number; worktrees: number } | undefined
  /** Whether untrusted programs run in bubblewrap, were turned off by the operator, or are refused. */
  sandbox: SandboxState
}

interface StatusDeps {
  db: Database
  approvals: Approvals
  tasks: Tasks
  usage: Usage
  agents: Agents
  schedules: Pick<Schedules, 'figures'>
  startedAt: Date
  version: string
  commit: string | undefined
  sandbox: () => SandboxState
}

/** The service's health in figures, for admins. Parts that start later (the dispatcher) report through `watch`. */
export class ServiceStatus {
  readonly #deps: StatusDeps
  #dispatcher: () => { healthy: boolean; active: number } = () => ({ healthy: false, active: 0 })
  #workspace: (() => Promise<StatusFigures['workspace']>) | undefined

  constructor(deps: StatusDeps) {
    this.#deps = deps
  }

  /** The dispatcher, once it exists, tells its figures through this. */
  watchDispatcher(read: () => { healthy: boolean; active: number }): void {
    this.#dispatcher = read
  }

  /** The task runner, when there is one, tells its disk use through this. */
  watchWorkspace(read: () => Promise<StatusFigures['workspace']>): void {
    this.#workspace = read
  }

  async figures(): Promise<StatusFigures> {
    const { db, approvals, tasks, usage, agents, schedules, startedAt, version, commit } = this.#deps
    const t0 = performance.now()
    await db.pool.query('select 1')
    const pingMs = performance.now() - t0
    const { healthy, active } = this.#dispatcher()
    return {
      version,
      commit,
      uptimeSeconds: (Date.now() - startedAt.getTime()) / 1000,
      database: { kind: db.kind, pingMs },
      inbox: await stats(db.pool),
      dispatcher: { healthy, active },
      tasks: await tasks.counts(),
      approvalsPending: await approvals.countPending(),
      model: await agents.defaultModel(),
      modelFailuresLastHour: await usage.failuresWithin(3600_000),
      schedules: await schedules.figures(),
      workspace: await this.#workspace?.(),
      sandbox: this.#deps.sandbox(),
    }
  }
}
