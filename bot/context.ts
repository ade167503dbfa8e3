import type { ConversationFlavor } from '@grammyjs/conversations'
import type { Context as BaseContext } from 'grammy'
import type { AgentDirectory } from '../agents/directory.ts'
import type { Database } from '../db/database.ts'
import type { Turns } from '../graph/turns.ts'
import type { Logger } from '../logger.ts'

/** What handlers may use; built once in main.ts and shared by every update. */
export interface Services {
  db: Database
  conversation: Turns
  adminIds: ReadonlySet<number>
  allowedUserIds: ReadonlySet<number>
  /** How long an approval request waits for a decision. */
  approvalTtlMs: number
  startedAt: Date
  version: string
  /** Whether the coder is set up (GIT_REMOTE_URL): /code and the code tool exist only then. */
  coderEnabled: boolean
  /** A task step was queued: let the task runner start it now. */
  wakeTasks: () => void
  /** The agents: built in and defined by people. */
  agents: AgentDirectory
  /** The commit this build came from, if known (for /status). */
  commit: string | undefined
  /** Live figures from the dispatcher, for /status. */
  dispatcherStatus: () => { active: number; healthy: boolean }
}

/** grammY's context plus a per-update logger, the services, and the wizards' controls. */
export type Context = ConversationFlavor<
  BaseContext & {
    log: Logger
    services: Services
    /** Set by the auth middleware. */
    isAdmin: boolean
  }
>
