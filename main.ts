import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import type { Bot } from 'grammy'
import { assistant } from './agents/assistant.ts'
import { coder, requestCodeChangeTool } from './agents/coder.ts'
import { AgentDirectory } from './agents/directory.ts'
import type { TaskQueue } from './agents/coder.ts'
import { Memory, createEmbedder, memoryTools } from './agents/memory.ts'
import { createChatModel } from './agents/model.ts'
import { appendToFileTool } from './agents/tools/append-to-file.ts'
import type { Context } from './bot/context.ts'
import { createBot, publishCommands } from './bot/create-bot.ts'
import { Dispatcher } from './bot/dispatcher.ts'
import { createEventHandler } from './bot/events.ts'
import { Poller } from './bot/polling.ts'
import { Scheduler } from './bot/scheduler.ts'
import { WEBHOOK_PATH, createHttpServer } from './bot/server.ts'
import { TaskProgressReporter } from './bot/tasks/progress.ts'
import { ALLOWED_UPDATES } from './bot/update.ts'
import { ConfigError, loadConfig } from './config.ts'
import type { Config } from './config.ts'
import { openDatabase } from './db/database.ts'
import type { Database } from './db/database.ts'
import { DataDirLockedError } from './db/dir-lock.ts'
import { INTERNAL_EVENT } from './db/inbox.ts'
import { ensureMemoryIndex } from './db/memories.ts'
import { migrate } from './db/migrate.ts'
import { createTask, queuePosition } from './db/tasks.ts'
import { recordModelCall } from './db/usage.ts'
import { seedFromEnv } from './db/users.ts'
import { buildChatGraph } from './graph/chat-graph.ts'
import type { ModelCallReport } from './graph/chat-graph.ts'
import { createCheckpointer } from './graph/checkpointer.ts'
import { Conversation } from './graph/conversation.ts'
import { createLogger, createScrubber } from './logger.ts'
import { Metrics } from './metrics.ts'
import type { Logger } from './logger.ts'
import { ProcessLiveness } from './worker/liveness.ts'
import type { ClaimIdentity } from './worker/leased-worker.ts'
import { GitLock } from './workspace/git-lock.ts'
import { Repository } from './workspace/repository.ts'
import { TaskRunner } from './workspace/task-runner.ts'
import pkg from './package.json' with { type: 'json' }

const GAVE_UP = 'Sorry, I could not handle your last message, even after several tries. Please send it again.'

/** Our tables, then LangGraph's checkpoint tables: `npm run migrate` and every start run this. */
async function prepareSchema(db: Database, log: Logger, embeddingDim: number): Promise<void> {
  await migrate(db.pool, log)
  await createCheckpointer(db.pool).setup()
  await ensureMemoryIndex(db.pool, embeddingDim)
}

/** getMe, retried: Telegram being briefly unreachable must not stop a start (updates still queue). */
async function initBot(bot: Bot<Context>, log: Logger, stopping: () => boolean): Promise<void> {
  for (let delay = 1000; !stopping(); delay = Math.min(delay * 2, 30_000)) {
    try {
      await bot.init()
      return
    } catch (err) {
      log.warn({ err, retryInMs: delay }, 'could not reach Telegram (getMe); retrying')
      await new Promise((r) => setTimeout(r, delay))
    }
  }
}

/** The coder's task runner: the clone, the git lock, aider, and progress shown in the chats. */
function createTaskRunner(
  config: Config,
  ws: NonNullable<Config['workspace']>,
  db: Database,
  bot: Bot<Context>,
  scrub: (text: string) => string,
  log: Logger,
  metrics: Metrics,
  onReported: () => void,
  liveness: ClaimIdentity,
): TaskRunner {
  const repo = new Repository({ remoteUrl: ws.remoteUrl, accessToken: ws.accessToken, dir: join(ws.dir, 'repo'), author: ws.author, path: config.path })
  return new TaskRunner({
    pool: db.pool,
    lock: new GitLock(db),
    repo,
    lockKey: ws.remoteUrl,
    aider: { bin: ws.aiderBin, model: ws.aiderModel, apiBase: config.llm.baseUrl, apiKey: config.llm.apiKey, timeoutMs: ws.aiderTimeoutMs, author: ws.author },
    path: config.path,
    pushBranch: ws.pushBranch,
    leaseMs: ws.taskLeaseMs,
    pollMs: 2000,
    log: log.child({ component: 'tasks' }),
    scrub,
    progress: new TaskProgressReporter({ api: bot.api, pool: db.pool, log: log.child({ component: 'task-progress' }) }),
    onReported,
    liveness,
    observe: {
      step: (step, status, ms) => metrics.taskStepSeconds.observe({ step, status }, ms / 1000),
      aider: (outcome, ms) => metrics.aiderSeconds.observe({ outcome }, ms / 1000),
    },
  })
}

async function run(config: Config, log: Logger, command: string | undefined): Promise<void> {
  const db = await openDatabase({ url: config.database.url, dataDir: config.database.dataDir, log })
  await prepareSchema(db, log, config.embeddings.dim)
  if (command === 'migrate') {
    await db.close()
    log.info('migrations done')
    return
  }
  await seedFromEnv(db.pool, config.telegram.adminIds)
  // Held for the life of the process: the dispatcher's and the runner's claims die with it, at once.
  const liveness = await ProcessLiveness.acquire(db, log.child({ component: 'liveness' }))

  const checkpointer = createCheckpointer(db.pool)
  const model = createChatModel(config.llm)
  // The task runner is created below, once the bot exists; the tool and the bot only wake it.
  const taskQueue: TaskQueue = {
    async queueCodeTask({ instructions, files }, context) {
      const task = await createTask(db.pool, { ...context, requesterId: context.userId, source: `${context.threadId}:${context.toolCallId}`, input: { instructions, files: files ?? [] } })
      runner?.wake()
      return { id: task.id, position: await queuePosition(db.pool, task.id) }
    },
  }
  const memory = new Memory({ pool: db.pool, embedder: createEmbedder(config.embeddings), settings: config.memory, log: log.child({ component: 'memory' }) })
  const memTools = memoryTools(memory)
  const codeTools = config.workspace ? [requestCodeChangeTool(taskQueue)] : []
  const assistantTools = [...memTools, ...(config.testToolFile ? [appendToFileTool(config.testToolFile)] : []), ...codeTools]
  const agents = new AgentDirectory({
    pool: db.pool,
    builtIns: [
      { ...assistant, tools: assistantTools },
      ...(config.workspace ? [{ ...coder, tools: [...memTools, ...codeTools] }] : []),
    ],
    catalog: [...memTools, ...codeTools],
    defaultModel: config.llm.model,
  })
  const models = new Map<string, ReturnType<typeof createChatModel>>([[config.llm.model, model]])
  const modelFor = (name: string) => {
    let found = models.get(name)
    if (!found) models.set(name, (found = createChatModel({ ...config.llm, model: name })))
    return found
  }
  const metrics = new Metrics(db.pool)
  const onModelCall = (call: ModelCallReport) => {
    metrics.modelCall(call)
    recordModelCall(db.pool, call).catch((err: unknown) => log.warn({ err }, 'could not record model usage'))
  }
  const remind = config.memory.recallLimit > 0 ? (who: { userId: number; chatId: number; agent: string }, text: string) => memory.reminder(who, text) : undefined
  const graph = buildChatGraph({ model, modelFor, agents, maxMessages: config.llm.historyMaxMessages, onModelCall, ...(remind && { remind }) }).compile({ checkpointer })
  const conversation = new Conversation({ graph, checkpointer, pool: db.pool, model, modelFor, agents, onModelCall })
  const wakeTasks = () => runner?.wake()

  // The dispatcher calls into the bot and the bot reports the dispatcher's state: both refer to the
  // other only inside functions that run after start-up.
  const dispatcher: Dispatcher = new Dispatcher({
    pool: db.pool,
    log: log.child({ component: 'dispatcher' }),
    handle: (row) => (row.kind === INTERNAL_EVENT ? events(row.payload) : bot.handleUpdate(row.payload as Parameters<typeof bot.handleUpdate>[0])),
    onGiveUp: async (row) => {
      if (row.lane !== 0) await bot.api.sendMessage(row.lane, GAVE_UP)
    },
    onOutcome: (row, outcome, ms) => {
      metrics.updatesHandled.inc({ outcome })
      metrics.turnSeconds.observe({ kind: row.kind }, ms / 1000)
      if (row.attempts === 1) metrics.inboxLagSeconds.observe(row.waitedMs / 1000)
    },
    ...config.inbox,
    liveness,
  })
  const dispatcherStatus = () => dispatcher.status()
  const bot = createBot({ ...config.telegram, rateLimit: config.rateLimit }, log, {
    db,
    conversation,
    agents,
    commit: config.commit,
    adminIds: new Set(config.telegram.adminIds),
    allowedUserIds: new Set(config.telegram.allowedUserIds),
    startedAt: new Date(),
    version: pkg.version,
    dispatcherStatus,
    approvalTtlMs: config.approvals.timeoutMs,
    coderEnabled: config.workspace !== undefined,
    wakeTasks,
  })
  const events = createEventHandler({ api: bot.api, db, conversation, log: log.child({ component: 'events' }), approvalTtlMs: config.approvals.timeoutMs, wakeTasks })
  const scrub = createScrubber(config.secrets)
  const runner: TaskRunner | undefined = config.workspace && createTaskRunner(config, config.workspace, db, bot, scrub, log, metrics, () => dispatcher.wake(), liveness)
  const scheduler = new Scheduler({ pool: db.pool, log: log.child({ component: 'scheduler' }), everyMs: config.approvals.sweepMs, onQueued: () => dispatcher.wake() })
  const wake = () => dispatcher.wake()

  const webhookMode = config.telegram.webhookUrl !== undefined
  const server = createHttpServer({ pool: db.pool, log: log.child({ component: 'http' }), webhookSecret: webhookMode ? config.telegram.webhookSecret : undefined, onStored: wake, dispatcherStatus, metrics })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(config.http.port, config.http.host, resolve)
  })
  const { port } = server.address() as AddressInfo
  log.info({ port, host: config.http.host }, 'listening')

  let stopping = false
  let poller: Poller | undefined
  const shutdown = async (signal: string) => {
    if (stopping) return
    stopping = true
    log.info({ signal }, 'shutting down')
    setTimeout(() => process.exit(1), config.shutdownGraceMs + 10_000).unref() // never hang a deploy
    server.draining = true
    await poller?.stop()
    await scheduler.stop()
    // Both get the same grace, side by side: a task step and a chat's handler end or are handed back.
    await Promise.all([runner?.stop(config.shutdownGraceMs), dispatcher.stop(config.shutdownGraceMs)])
    await liveness.release()
    server.closeIdleConnections()
    await new Promise((r) => server.close(r))
    await db.close()
    log.info('stopped')
    log.flush()
    process.exit(0)
  }
  const onSignal = (signal: string) =>
    void shutdown(signal).catch((err: unknown) => {
      log.fatal({ err }, 'unclean shutdown')
      process.exit(1)
    })
  process.once('SIGTERM', onSignal)
  process.once('SIGINT', onSignal)

  await initBot(bot, log, () => stopping)
  if (stopping) return
  if (config.telegram.webhookUrl) {
    await bot.api.setWebhook(config.telegram.webhookUrl, { secret_token: config.telegram.webhookSecret, allowed_updates: [...ALLOWED_UPDATES] })
  } else {
    poller = new Poller({ api: bot.api, pool: db.pool, log: log.child({ component: 'polling' }), onStored: wake, onReceived: (kind) => metrics.updatesReceived.inc({ kind }) })
    await poller.start()
  }
  dispatcher.start()
  scheduler.start()
  runner?.start()
  await publishCommands(bot, config.telegram.adminIds, log, config.workspace !== undefined)
  log.info({ mode: webhookMode ? 'webhook' : 'polling', webhookPath: WEBHOOK_PATH, database: db.kind, port, bot: bot.botInfo.username }, 'service started')
}

async function main(): Promise<void> {
  let config: Config
  try {
    config = loadConfig()
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err
    process.stderr.write(`${err.message}\n`)
    process.exit(1)
  }
  const log = createLogger({ level: config.logLevel, secrets: config.secrets })
  try {
    await run(config, log, process.argv[2])
  } catch (err) {
    if (err instanceof DataDirLockedError) log.fatal(err.message)
    else log.fatal({ err }, 'could not start')
    log.flush()
    process.stderr.write(`${err instanceof DataDirLockedError ? err.message : 'Mechanic could not start; see the log above.'}\n`)
    process.exit(1)
  }
}

await main()
