import { createTestDatabase } from './database.ts'
import type { TestDatabaseSpec } from './database.ts'
import { OpenAIEmulator } from './openai-emulator.ts'
import { ServiceProcess } from './service.ts'
import { TelegramEmulator } from './telegram-emulator.ts'

// Shaped like real secrets (so log scans would catch them) but not matching a real token's length.
export const BOT_TOKEN = '654321:TEST-bot-token-for-emulators-only_xyz'
export const WEBHOOK_SECRET = 'test-webhook-secret-value'
export const LLM_KEY = 'sk-test-openrouter-key-for-emulators'
export const ADMIN_ID = 1000
export const USER_ID = 2000

export interface MessageOptions {
  chatId?: number
  userId?: number
  updateId?: number
  topicId?: number
  replyTo?: number
}

/** The entities Telegram gives a text: a leading command (in texts), and a mention of the bot. */
function entitiesOf(text: string, username: string, commands: boolean): Array<{ type: string; offset: number; length: number }> | undefined {
  const mention = `@${username}`
  const entities = [
    ...(commands && text.startsWith('/') ? [{ type: 'bot_command', offset: 0, length: text.split(' ')[0]!.length }] : []),
    ...(text.includes(mention) ? [{ type: 'mention', offset: text.indexOf(mention), length: mention.length }] : []),
  ]
  return entities.length ? entities : undefined
}

/** Everything an end-to-end test talks to: both emulators, a fresh database, and service processes. */
export class Harness {
  readonly telegram = new TelegramEmulator({ token: BOT_TOKEN })
  readonly openai = new OpenAIEmulator()
  db!: TestDatabaseSpec
  readonly services: ServiceProcess[] = []
  #nextUpdateId = 100
  #nextMessageId = 1

  static async create(opts: { embedded?: boolean } = {}): Promise<Harness> {
    const h = new Harness()
    await h.telegram.start()
    await h.openai.start()
    h.db = await createTestDatabase(opts)
    return h
  }

  /** The environment of a service pointed at this harness; `overrides` win. */
  env(overrides: Record<string, string> = {}): Record<string, string> {
    return {
      TELEGRAM_BOT_TOKEN: BOT_TOKEN,
      TELEGRAM_API_ROOT: this.telegram.apiRoot,
      TELEGRAM_WEBHOOK_URL: 'https://mechanic.example.test/telegram/webhook',
      TELEGRAM_WEBHOOK_SECRET: WEBHOOK_SECRET,
      TELEGRAM_ADMIN_IDS: String(ADMIN_ID),
      ALLOWED_USER_IDS: `${USER_ID},2001,2002,2003`,
      OPENROUTER_API_KEY: LLM_KEY,
      LLM_BASE_URL: this.openai.baseUrl,
      LLM_MODEL: 'test-model',
      EMBEDDING_MODEL: 'test-embedding',
      EMBEDDING_DIM: '256', // the emulator's hashed bag-of-words vectors
      LLM_MAX_RETRIES: '2',
      LLM_TIMEOUT_SECONDS: '20',
      HOST: '127.0.0.1',
      PORT: '0',
      LOG_LEVEL: 'debug',
      DISPATCH_POLL_MS: '100',
      // Suites send many messages from one person within a minute; the rate-limit test sets its own.
      RATE_LIMIT_MESSAGES: '1000',
      ...(this.db.url ? { DATABASE_URL: this.db.url } : { DATA_DIR: this.db.dataDir }),
      ...overrides,
    }
  }

  async startService(overrides: Record<string, string> = {}): Promise<ServiceProcess> {
    const service = await ServiceProcess.start(this.env(overrides))
    this.services.push(service)
    return service
  }

  /**
   * A text message update from `userId` in chat `chatId` (private, the user's own, by default; a
   * negative id is a group). A mention of the bot gets its entity; `topicId` puts it in a forum
   * topic; `replyTo` makes it a reply to that message of the bot.
   */
  text(text: string, opts: MessageOptions = {}) {
    const entities = entitiesOf(text, this.telegram.username, true)
    return this.message({ text, ...(entities && { entities }) }, opts)
  }

  /**
   * A message with media (`fields` such as `voice`, `photo`, `document`, `media_group_id`), with an
   * optional caption whose mention of the bot gets its entity, as Telegram sends it.
   */
  media(fields: Record<string, unknown>, opts: MessageOptions & { caption?: string } = {}) {
    const caption = opts.caption
    const entities = caption === undefined ? undefined : entitiesOf(caption, this.telegram.username, false)
    return this.message({ ...fields, ...(caption !== undefined && { caption }), ...(entities && { caption_entities: entities }) }, opts)
  }

  message(fields: Record<string, unknown>, opts: MessageOptions = {}) {
    const userId = opts.userId ?? USER_ID
    const chatId = opts.chatId ?? userId
    const chat = chatId > 0 ? { id: chatId, type: 'private', first_name: 'Tester' } : { id: chatId, type: opts.topicId ? 'supergroup' : 'group', title: 'Group', ...(opts.topicId && { is_forum: true }) }
    return {
      update_id: opts.updateId ?? this.#nextUpdateId++,
      message: {
        message_id: this.#nextMessageId++,
        date: Math.floor(Date.now() / 1000),
        chat,
        from: { id: userId, is_bot: false, first_name: 'Tester', username: `user${userId}` },
        ...fields,
        ...(opts.topicId && { message_thread_id: opts.topicId, is_topic_message: true }),
        ...(opts.replyTo && { reply_to_message: { message_id: opts.replyTo, date: 0, chat, from: { id: this.telegram.botId, is_bot: true, first_name: 'Mechanic' }, text: 'earlier' } }),
      },
    }
  }

  /**
   * Sends a text message to `service` (from `userId`, in `chatId`: the person's own chat by default)
   * and returns the first message the bot sends to that chat after it, as a reader sees it.
   */
  async say(service: ServiceProcess, text: string, opts: MessageOptions = {}): Promise<string> {
    const chatId = opts.chatId ?? opts.userId ?? USER_ID
    const before = this.telegram.sentTexts(chatId).length
    await service.deliver(this.text(text, opts), WEBHOOK_SECRET)
    return (await this.telegram.waitForTexts(chatId, before + 1))[before]!
  }

  /** A press, by `userId`, on the button labelled `label` of the newest message in `chatId` that has one. */
  pressNewest(label: string, opts: { chatId: number; userId?: number }) {
    const { messageId, data } = this.telegram.newestButton(opts.chatId, label)
    return this.press(messageId, data, { chatId: opts.chatId, userId: opts.userId ?? opts.chatId })
  }

  /** A press on an inline button of the bot's message `messageId` in `chatId`. */
  press(messageId: number, data: string, opts: { chatId?: number; userId?: number; updateId?: number } = {}) {
    const userId = opts.userId ?? USER_ID
    const chatId = opts.chatId ?? USER_ID
    return {
      update_id: opts.updateId ?? this.#nextUpdateId++,
      callback_query: {
        id: `cq-${this.#nextMessageId++}`,
        from: { id: userId, is_bot: false, first_name: `User${userId}` },
        chat_instance: 'ci',
        data,
        message: { message_id: messageId, date: Math.floor(Date.now() / 1000), chat: { id: chatId, type: chatId > 0 ? 'private' : 'group' }, text: 'approval' },
      },
    }
  }


  nextUpdateId(): number {
    return this.#nextUpdateId++
  }

  /** All log output of every service this harness started. */
  allOutput(): string {
    return this.services.flatMap((s) => s.output).join('\n')
  }

  /** Secrets that must never appear in any log line: what a scan of the captured output looks for. */
  secrets(): string[] {
    const dbPassword = this.db.url ? decodeURIComponent(new URL(this.db.url).password) : undefined
    return [BOT_TOKEN, LLM_KEY, WEBHOOK_SECRET, ...(dbPassword ? [dbPassword] : [])]
  }

  /** The secrets found in the captured output (expected: none). */
  leakedSecrets(): string[] {
    const output = this.allOutput()
    return this.secrets().filter((s) => output.includes(s))
  }

  /** Closes everything, then fails the test if any captured log line held a secret. */
  async closeAndCheckLogs(): Promise<void> {
    await this.close()
    const leaked = this.leakedSecrets()
    if (leaked.length) throw new Error(`secrets found in the service logs: ${leaked.length} of ${this.secrets().length}`)
  }

  async close(): Promise<void> {
    await Promise.all(this.services.map((s) => s.stop()))
    await this.telegram.close()
    await this.openai.close()
    await this.db.dispose()
  }
}
