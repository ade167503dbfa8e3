import { autoRetry } from '@grammyjs/auto-retry'
import { Bot } from 'grammy'
import type { Logger } from '../logger.ts'
import { commandMenus, commandsComposer } from './command-table.ts'
import { COMMANDS } from './commands.ts'
import type { Context, Services } from './context.ts'
import { agentsFeature } from './features/agents.ts'
import { approvalsFeature } from './features/approvals.ts'
import { chatFeature } from './features/chat.ts'
import { mediaFeature } from './features/media.ts'
import type { MediaLimits } from './features/media.ts'
import { memoryFeature } from './features/memory.ts'
import { schedulesFeature } from './features/schedules.ts'
import { unhandledFeature } from './features/unhandled.ts'
import { tasksFeature } from './features/tasks.ts'
import { wizardsFeature } from './features/wizards.ts'
import type { WizardStorage } from './features/wizards.ts'
import { answerEveryButton } from './middlewares/answer-buttons.ts'
import { noSecrets } from './middlewares/no-secrets.ts'
import { plainTextFallback } from './middlewares/plain-fallback.ts'
import { attach } from './middlewares/attach.ts'
import { auth } from './middlewares/auth.ts'
import { rateLimit } from './middlewares/rate-limit.ts'
import type { RateLimitSettings, RateLimitStore } from './middlewares/rate-limit.ts'

export interface BotOptions {
  token: string
  apiRoot: string
  rateLimit: RateLimitSettings
  media: MediaLimits
}

/** Where the bot keeps what must outlive a process: wizards in progress and rate-limit counters. */
export interface BotStores {
  wizards: WizardStorage
  rateLimits: RateLimitStore
}

/**
 * The grammY bot with its API client, before any middleware: the services' output needs the API first.
 * Every call is retried on 429 and 5xx (bounded), and a text whose formatting Telegram refuses is
 * sent again as plain text.
 */
export function createBot({ token, apiRoot }: Pick<BotOptions, 'token' | 'apiRoot'>, log: Logger, secrets: readonly string[] = [token]): Bot<Context> {
  const bot = new Bot<Context>(token, { client: { apiRoot } })
  // Bounded: auto-retry's defaults wait forever on repeated 429s.
  bot.api.config.use(autoRetry({ maxRetryAttempts: 3, maxDelaySeconds: 30, rethrowHttpErrors: false }), plainTextFallback(log.child({ component: 'telegram' })), noSecrets(secrets))
  return bot
}

/**
 * The bot's middleware: logging → every button answered → auth → rate limit → wizards → the command
 * table → each feature's buttons and replies → voice, photos and files → chat → unhandled. No error boundary of its own: a
 * failing update throws out of handleUpdate so the dispatcher can retry it.
 */
export function installFeatures(bot: Bot<Context>, { rateLimit: limits, media }: Pick<BotOptions, 'rateLimit' | 'media'>, log: Logger, services: Services, stores: BotStores): void {
  bot.use(attach(log, services))
  bot.use(answerEveryButton)
  bot.use(auth)
  if (limits.messages > 0) bot.use(rateLimit(stores.rateLimits, limits))
  // A wizard in progress takes its answers before anything else sees them.
  bot.use(wizardsFeature(stores.wizards))
  bot.use(commandsComposer(COMMANDS))
  // Approvals before chat: a reply to an Edit prompt is a decision, not a chat message.
  // Tasks after approvals: a reply to a task's message continues the task, unless it answers an Edit prompt.
  bot.use(agentsFeature, memoryFeature, approvalsFeature, tasksFeature, schedulesFeature, mediaFeature(media), chatFeature, unhandledFeature)
}

/** The command menus, from the command table: everyone's, and the admins' in each admin's private chat. */
export async function publishCommands(bot: Bot<Context>, adminIds: Iterable<number>, log: Logger, coderEnabled: boolean): Promise<void> {
  const { everyone, admins } = commandMenus(COMMANDS, coderEnabled)
  const menus = [{ commands: everyone, scope: undefined }, ...[...adminIds].map((id) => ({ commands: admins, scope: { type: 'chat' as const, chat_id: id } }))]
  for (const { commands, scope } of menus) {
    // One admin who never opened the bot ("chat not found") must not cost the others their menu.
    await bot.api.setMyCommands(commands, scope && { scope }).catch((err: unknown) => log.warn({ err, scope }, 'could not publish a command menu'))
  }
}
