import type { ConversationFlavor } from '@grammyjs/conversations'
import type { Context as BaseContext } from 'grammy'
import type { Memory } from '../agents/memory.ts'
import type { Logger } from '../logger.ts'
import type { Access } from '../services/access.ts'
import type { Agents } from '../services/agents.ts'
import type { Approvals } from '../services/approvals.ts'
import type { Budgets } from '../services/budgets.ts'
import type { Chats } from '../services/chats.ts'
import type { Mcp } from '../services/mcp.ts'
import type { Media } from '../services/media.ts'
import type { Schedules } from '../services/schedules.ts'
import type { ServiceStatus } from '../services/status.ts'
import type { Repositories } from '../services/repositories.ts'
import type { Tasks } from '../services/tasks.ts'
import type { Usage } from '../services/usage.ts'

/** The application services handlers talk to (never to tables); built once by the composition root. */
export interface Services {
  access: Access
  agents: Agents
  approvals: Approvals
  chats: Chats
  /** The MCP servers, for /mcp. */
  mcp: Mcp
  /** Voice to text, files read, albums gathered. */
  media: Media
  memory: Memory
  /** Reminders and scheduled jobs, and people's time zones. */
  schedules: Schedules
  status: ServiceStatus
  tasks: Tasks
  /** Spending caps per person, agent and task (/budget). */
  budgets: Budgets
  /** The coder's repositories (/repos, /repo, where a /code goes); undefined without the coder. */
  repositories: Repositories | undefined
  usage: Usage
  /** Whether the coder is set up (GIT_REMOTE_URL): /code, /tasks and the code tool exist only then. */
  coderEnabled: boolean
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
