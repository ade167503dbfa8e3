import type { Context as BaseContext } from 'grammy'
import type { Database } from '../db/database.ts'
import type { Conversation } from '../graph/conversation.ts'
import type { Logger } from '../logger.ts'

/** What handlers may use; built once in main.ts and shared by every update. */
export interface Services {
  db: Database
  conversation: Conversation
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
  /** Live figures from the dispatcher, for /status. */
  dispatcherStatus: () => { active: number; healthy: boolean }
}

/** grammY's context plus a per-update logger and the services. */
export type Context = BaseContext & {
  log: Logger
  services: Services
  /** Set by the auth middleware. */
  isAdmin: boolean
}
