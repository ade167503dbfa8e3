import { autoRetry } from '@grammyjs/auto-retry'
import { Bot } from 'grammy'
import type { Logger } from '../logger.ts'
import type { Context, Services } from './context.ts'
import { adminFeature } from './features/admin.ts'
import { agentsFeature } from './features/agents.ts'
import { approvalsFeature } from './features/approvals.ts'
import { chatFeature } from './features/chat.ts'
import { commandsFeature } from './features/commands.ts'
import { memoryFeature } from './features/memory.ts'
import { statusFeature } from './features/status.ts'
import { tasksFeature } from './features/tasks.ts'
import { unhandledFeature } from './features/unhandled.ts'
import { usageFeature } from './features/usage.ts'
import { wizardsFeature } from './features/wizards.ts'
import { attach } from './middlewares/attach.ts'
import { auth } from './middlewares/auth.ts'
import { rateLimit } from './middlewares/rate-limit.ts'
import type { RateLimitSettings } from './middlewares/rate-limit.ts'

export interface BotOptions {
  token: string
  apiRoot: string
  rateLimit: RateLimitSettings
}

/**
 * The grammY bot: logging → auth → features, in this order, unhandled last. It has no error
 * boundary of its own: a failing update throws out of handleUpdate so the dispatcher can retry it.
 */
export function createBot({ token, apiRoot, rateLimit: limits }: BotOptions, log: Logger, services: Services): Bot<Context> {
  const bot = new Bot<Context>(token, { client: { apiRoot } })
  // Bounded: auto-retry's defaults wait forever on repeated 429s.
  bot.api.config.use(autoRetry({ maxRetryAttempts: 3, maxDelaySeconds: 30, rethrowHttpErrors: false }))
  bot.use(attach(log, services))
  bot.use(auth)
  if (limits.messages > 0) bot.use(rateLimit(services.db.pool, limits))
  // A wizard in progress takes its answers before anything else sees them.
  bot.use(wizardsFeature(services.db.pool))
  // The admin gate before the admin commands; approvals before chat: a reply to an Edit prompt is a
  // decision, not a chat message.
  bot.use(adminFeature, commandsFeature, statusFeature, agentsFeature, memoryFeature, usageFeature, approvalsFeature, tasksFeature, chatFeature, unhandledFeature)
  return bot
}

/** The command menus: everyone's, and one with the admin commands for each admin's private chat. */
export async function publishCommands(bot: Bot<Context>, adminIds: Iterable<number>, log: Logger, coderEnabled: boolean): Promise<void> {
  const common = [
    { command: 'new', description: 'Start a fresh conversation' },
    ...(coderEnabled
      ? [
          { command: 'code', description: 'Ask the coder to change the repository' },
          { command: 'tasks', description: 'Recent coding tasks' },
        ]
      : []),
    { command: 'agents', description: 'The agents, and switching between them' },
    { command: 'newagent', description: 'Make an agent of your own' },
    { command: 'memory', description: 'What I remember about you' },
    { command: 'usage', description: 'Tokens you used' },
    { command: 'cancel', description: 'Cancel a pending request or a running task' },
    { command: 'help', description: 'What I can do' },
  ]
  const admin = [
    ...common,
    { command: 'status', description: 'Service health (admin)' },
    { command: 'approvals', description: 'Pending approvals (admin)' },
    { command: 'users', description: 'People and their access (admin)' },
    { command: 'allow', description: 'Allow a person by id (admin)' },
    { command: 'deny', description: 'Deny a person by id (admin)' },
    { command: 'model', description: 'Show or set the default model (admin)' },
  ]
  const menus = [{ commands: common, scope: undefined }, ...[...adminIds].map((id) => ({ commands: admin, scope: { type: 'chat' as const, chat_id: id } }))]
  for (const { commands, scope } of menus) {
    // One admin who never opened the bot ("chat not found") must not cost the others their menu.
    await bot.api.setMyCommands(commands, scope && { scope }).catch((err: unknown) => log.warn({ err, scope }, 'could not publish a command menu'))
  }
}
