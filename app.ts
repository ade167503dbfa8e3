import { join } from 'node:path'
import type { Bot } from 'grammy'
import { assistant } from './agents/assistant.ts'
import { coder, requestCodeChangeTool } from './agents/coder.ts'
import { Prices, loadPriceFile } from './agents/prices.ts'
import { AgentDirectory } from './agents/directory.ts'
import { McpCatalog } from './agents/mcp/catalog.ts'
import { loadMcpConfig } from './agents/mcp/config.ts'
import { McpServers } from './agents/mcp/servers.ts'
import { Memory, createEmbedder, memoryTools } from './agents/memory.ts'
import { createChatModel } from './agents/model.ts'
import { scheduleTools } from './agents/schedule-tools.ts'
import { Transcriber } from './agents/transcriber.ts'
import { appendToFileTool } from './agents/tools/append-to-file.ts'
import type { Context, Services } from './bot/context.ts'
import { createBot, installFeatures, publishCommands } from './bot/create-bot.ts'
import { Dispatcher } from './bot/dispatcher.ts'
import { TelegramOutput } from './bot/output.ts'
import { Poller } from './bot/polling.ts'
import { healthReport } from './bot/ingest/health.ts'
import { IngestThread, WEBHOOK_PATH } from './bot/ingest/index.ts'
import { TaskProgressReporter } from './bot/tasks/progress.ts'
import { pullRequestText } from './bot/tasks/report.ts'
import { ALLOWED_UPDATES } from './bot/update.ts'
import type { Config } from './config.ts'
import { openDatabase } from './db/database.ts'
import type { Database } from './db/database.ts'
import { INTERNAL_EVENT } from './db/inbox.ts'
import { ensureMemoryIndex } from './db/memories.ts'
import { migrate } from './db/migrate.ts'
import { rateLimitStore } from './db/rate-limits.ts'
import { isToolAllowed } from './db/tool-allowances.ts'
import { wizardStorage } from './db/wizard-state.ts'
import { buildChatGraph } from './graph/chat-graph.ts'
import { AttachmentStore } from './graph/attachments.ts'
import { createCheckpointer } from './graph/checkpointer.ts'
import { Turns } from './graph/turns.ts'
import { createScrubber, createSecretCheck } from './logger.ts'
import type { Logger } from './logger.ts'
import { Metrics } from './metrics.ts'
import { Access } from './services/access.ts'
import { Agents } from './services/agents.ts'
import { Approvals } from './services/approvals.ts'
import { Chats } from './services/chats.ts'
import { Media } from './services/media.ts'
import { ScheduleFirings, Schedules } from './services/schedules.ts'
import { Mcp, mcpCallRecorder } from './services/mcp.ts'
import { createEventHandler } from './services/events.ts'
import { ServiceStatus } from './services/status.ts'
import { Sandbox } from './sandbox/sandbox.ts'
import { TaskReports, Tasks } from './services/tasks.ts'
import { Usage } from './services/usage.ts'
import { Wakeup } from './wakeup.ts'
import type { ClaimIdentity } from './worker/leased-worker.ts'
import { ProcessLiveness } from './worker/liveness.ts'
import { Scheduler } from './worker/scheduler.ts'
import { GitLock } from './workspace/git-lock.ts'
import { Budgets } from './services/budgets.ts'
import { Repositories } from './services/repositories.ts'
import { RepositorySet } from './workspace/repositories.ts'
import type { WorkspaceSettings } from './workspace/repositories.ts'
import { TaskRunner } from './workspace/task-runner.ts'
import pkg from './package.json' with { type: 'json' }

/** Our tables, LangGraph's checkpoint tables, the memory index: `npm run migrate`, every start and the tests run this. */
export async function prepareSchema(db: Database, log: Logger, embeddingDim: number): Promise<void> {
  await migrate(db.pool, log)
  await createCheckpointer(db.pool).setup()
  await ensureMemoryIndex(db.pool, embeddingDim)
}

/** A running service: what `main.ts` starts and stops, and what tests and benches can import. */
export interface App {
  /** Connects to Telegram, starts taking updates and running work. */
  start(): Promise<void>
  /** Stops taking updates, gives running work `graceMs`, hands back the rest, closes the database. */
  stop(graceMs?: number): Promise<void>
  /** The HTTP port it listens on (useful with PORT=0). */
  readonly port: number
}

/** Nudges between parts created at different times: made first, so nothing refers forward. */
interface Wakeups {
  /** New work in the inbox (an update stored, an event queued). */
  inbox: Wakeup
  /** A task step was queued or decided. */
  tasks: Wakeup
}

/** The core: the database, the agents and their graph, and the application services. */
function createCore(config: Config, log: Logger, db: Database, bot: Bot<Context>, wake: Wakeups, sandbox: Sandbox) {
  const metrics = new Metrics(db.pool, () => db.statements())
  const output = new TelegramOutput(bot.api, log.child({ component: 'output' }))
  const prices = new Prices({ baseUrl: config.llm.baseUrl, apiKey: config.llm.apiKey, file: config.costs.pricesFile ? loadPriceFile(config.costs.pricesFile) : undefined, log: log.child({ component: 'prices' }) })
  const usage = new Usage({ pool: db.pool, log, prices, observe: (call, cost) => metrics.modelCall(call, cost) })
  const checkpointer = createCheckpointer(db.pool)
  const memory = new Memory({ pool: db.pool, embedder: createEmbedder(config.embeddings), settings: config.memory, log: log.child({ component: 'memory' }), record: usage.record })

  const mcpServers = new McpServers(log.child({ component: 'mcp' }), sandbox, config.mcp.baseEnv)
  const mcpCatalog = new McpCatalog(mcpServers, { record: mcpCallRecorder({ pool: db.pool, log, observe: (call) => metrics.toolCall(call) }), secrets: config.secrets })
  const repositories = config.workspace && new RepositorySet({ pool: db.pool, settings: workspaceSettings(config.workspace, config.path) })
  const repos = repositories && new Repositories({ pool: db.pool, set: repositories, log: log.child({ component: 'repositories' }) })
  // Approvals come later (they need the graph, which needs the tools): the tasks ask for them when a follow-up withdraws one.
  const later: { approvals?: Approvals } = {}
  const tasks = new Tasks({ pool: db.pool, wake: wake.tasks, repositoryFor: repos && ((name, chatId) => repos.forTask(name, chatId)), approvals: () => later.approvals! })
  const schedules = new Schedules({ pool: db.pool, limits: config.schedules, log: log.child({ component: 'schedules' }) })
  const budgets = new Budgets({
    pool: db.pool,
    defaults: config.costs.budgets,
    isAdmin: (id) => config.telegram.adminIds.includes(id),
    timeZoneOf: (id) => schedules.timeZoneOf(id),
    defaultTimeZone: config.schedules.defaultTimeZone,
    settled: () => usage.settled(),
    output,
    onRefused: (scope, period) => metrics.budgetRefusals.inc({ scope, period }),
    log: log.child({ component: 'budgets' }),
  })
  const timeTools = scheduleTools(schedules)
  const memTools = memoryTools(memory)
  const codeTools = config.workspace ? [requestCodeChangeTool(tasks)] : []
  const directory = new AgentDirectory({
    pool: db.pool,
    builtIns: [
      { ...assistant, tools: [...memTools, ...timeTools, ...(config.testToolFile ? [appendToFileTool(config.testToolFile)] : []), ...codeTools] },
      ...(config.workspace ? [{ ...coder, tools: [...memTools, ...codeTools] }] : []),
    ],
    catalog: [...memTools, ...timeTools, ...codeTools],
    defaultModel: config.llm.model,
    dynamic: mcpCatalog,
  })

  const model = createChatModel(config.llm)
  const models = new Map([[config.llm.model, model]])
  const modelFor = (name: string) => models.get(name) ?? models.set(name, createChatModel({ ...config.llm, model: name })).get(name)!
  const recall = config.memory.recallLimit > 0 ? (who: { userId: number; chatId: number; agent: string }, text: string) => memory.recallForTurn(who, text) : undefined
  const attachments = new AttachmentStore(db.pool)
  const allowedInThread = (threadId: string, tool: string) => isToolAllowed(db.pool, threadId, tool)
  const graph = buildChatGraph({ model, modelFor, agents: directory, maxMessages: config.llm.historyMaxMessages, onModelCall: usage.record, attachments, allowedInThread, budget: budgets.check, ...(recall && { recall }) }).compile({ checkpointer })
  const turns = new Turns({ graph, checkpointer, model, modelFor, agents: directory, onModelCall: usage.record, attachments, budget: budgets.check })

  const approvals = new Approvals({ pool: db.pool, turns, output, ttlMs: config.approvals.timeoutMs, tasksWake: wake.tasks, log: log.child({ component: 'approvals' }) })
  later.approvals = approvals
  const reports = new TaskReports({ pool: db.pool, turns, approvals, output, log: log.child({ component: 'tasks' }) })
  const agents = new Agents({ pool: db.pool, directory })
  const chats = new Chats({ pool: db.pool, turns, approvals, agents: directory })
  const access = new Access({ pool: db.pool, adminIds: config.telegram.adminIds, allowedUserIds: config.telegram.allowedUserIds })
  const firings = new ScheduleFirings({ pool: db.pool, output, chats, approvals, agents: directory, observe: metrics.scheduleObserver, mayUse: (id) => access.mayUse(id), log: log.child({ component: 'schedules' }) })
  const status = new ServiceStatus({ db, approvals, tasks, usage, agents, schedules, startedAt: new Date(), version: pkg.version, commit: config.commit, sandbox: () => sandbox.state })
  const services: Services = {
    access,
    agents,
    approvals,
    chats,
    mcp: new Mcp({ servers: mcpServers, catalog: mcpCatalog, configPath: config.mcp.configPath, environment: config.mcp.environment }),
    media: new Media({ pool: db.pool, transcriber: new Transcriber(config.transcription), record: usage.record, budget: budgets.check, observe: metrics.mediaObserver, documentMaxChars: config.media.documentMaxChars, sandbox }),
    memory,
    schedules,
    status,
    tasks,
    budgets,
    repositories: repos,
    usage,
    coderEnabled: config.workspace !== undefined,
  }
  return { metrics, output, services, mcpServers, repositories, prices, sandbox, events: createEventHandler({ approvals, reports, schedules: firings, log: log.child({ component: 'events' }) }) }
}

type Core = ReturnType<typeof createCore>

/** The transport: the bot's middleware, the dispatcher that feeds it from the inbox, and polling (webhook mode: see createIngest). */
function createTransport(config: Config, log: Logger, db: Database, bot: Bot<Context>, core: Core, wake: Wakeups, liveness: ClaimIdentity) {
  installFeatures(bot, { rateLimit: config.rateLimit, media: config.media }, log, core.services, { wizards: wizardStorage(db.pool), rateLimits: rateLimitStore(db.pool, config.rateLimit.windowMs) })
  const dispatcher = new Dispatcher({
    pool: db.pool,
    log: log.child({ component: 'dispatcher' }),
    handle: (row) => (row.kind === INTERNAL_EVENT ? core.events.handle(row.payload, row.updateId) : bot.handleUpdate(row.payload as Parameters<typeof bot.handleUpdate>[0])),
    onGiveUp: async (row, error) => {
      // An event of ours (a schedule's firing) records its failure; a person's update gets a sentence.
      if (row.kind === INTERNAL_EVENT) await core.events.gaveUp(row.payload, error)
      else if (row.lane !== 0) await core.output.gaveUp(row.lane)
    },
    onOutcome: (row, outcome, ms) => core.metrics.updateOutcome(row, outcome, ms),
    liveness,
    ...config.inbox,
    behind: {
      afterSeconds: config.inbox.backlogNoticeSeconds,
      // One after the other, in the background: a deep backlog must not become a burst of sends.
      tell: (lanes) =>
        void lanes.reduce(
          (previous, { lane, topicId }) =>
            previous.then(() => core.output.catchingUp({ chatId: lane, topicId }).catch((err: unknown) => log.warn({ err, lane }, 'could not send the backlog note'))),
          Promise.resolve(),
        ),
    },
  })
  wake.inbox.on(() => dispatcher.wake())
  core.services.status.watchDispatcher(() => dispatcher.status())
  const poller =
    config.telegram.webhookUrl === undefined
      ? new Poller({ api: bot.api, pool: db.pool, log: log.child({ component: 'polling' }), onStored: () => wake.inbox.wake(), onReceived: (kind) => core.metrics.updatesReceived.inc({ kind }) })
      : undefined
  return { dispatcher, poller }
}

/**
 * The HTTP side, on a thread of its own: the webhook is acknowledged once the update is durable
 * (its own Postgres connections; embedded, a synced journal the main thread moves into the inbox),
 * whatever the turns on this thread are doing. /health and /metrics are asked of this thread.
 */
async function createIngest(config: Config, log: Logger, db: Database, core: Core, wake: Wakeups, dispatcher: Dispatcher) {
  let draining = false
  const ingest = await IngestThread.start({
    settings: {
      host: config.http.host,
      port: config.http.port,
      webhookSecret: config.telegram.webhookUrl === undefined ? undefined : config.telegram.webhookSecret,
      store: db.kind === 'postgres' && config.database.url ? { kind: 'postgres', url: config.database.url } : { kind: 'journal', dir: join(config.database.dataDir, 'ingest') },
      log: { level: config.logLevel, secrets: config.secrets },
    },
    pool: db.pool,
    log: log.child({ component: 'ingest' }),
    health: () =>
      healthReport({
        pool: db.pool,
        dispatcherStatus: () => dispatcher.status(),
        // An MCP server that is down costs its tools, not the service: reported, never a 503.
        optionalComponents: () =>
          Object.fromEntries(core.services.mcp.list().map((s) => [`mcp:${s.name}`, { ok: s.state === 'connected', optional: true, state: s.state, tools: s.tools.length }])),
        draining: () => draining,
      }),
    metrics: async () => ({ status: 200, ...(await core.metrics.render()) }),
    onStored: (kinds) => {
      for (const kind of kinds) core.metrics.updatesReceived.inc({ kind })
      wake.inbox.wake()
    },
  })
  return {
    ingest,
    drain() {
      draining = true
      ingest.drain()
    },
  }
}

/** The repositories' settings from the configuration: the configured one, and what added ones share. */
function workspaceSettings(ws: NonNullable<Config['workspace']>, path: string | undefined): WorkspaceSettings {
  return {
    dir: ws.dir,
    author: ws.author,
    path,
    githubApiUrl: ws.githubApiUrl,
    testTimeoutMs: ws.testTimeoutMs,
    configured: { name: ws.name, url: ws.remoteUrl, accessToken: ws.accessToken, githubRepository: ws.githubRepository, pushBranch: ws.pushBranch, testCommand: ws.tests?.command },
    hostTokens: ws.hostTokens,
  }
}

/** The workers: the coder's task runner (when a repository is configured) and the scheduler. */
function createWorkers(config: Config, log: Logger, db: Database, bot: Bot<Context>, core: Core, wake: Wakeups, liveness: ClaimIdentity) {
  const ws = config.workspace
  const runner =
    ws &&
    core.repositories &&
    new TaskRunner({
      pool: db.pool,
      lock: new GitLock(db),
      repositories: core.repositories,
      concurrency: ws.taskConcurrency,
      aider: { bin: ws.aiderBin, model: ws.aiderModel, apiBase: config.llm.baseUrl, apiKey: config.llm.apiKey, timeoutMs: ws.aiderTimeoutMs, author: ws.author },
      path: config.path,
      sandbox: core.sandbox,
      describePullRequest: pullRequestText,
      budget: { beforeRun: (task) => core.services.budgets.beforeTask(task) },
      aiderPrice: () => core.prices.priceOf(ws.aiderModel),
      recordUsage: core.services.usage.record,
      leaseMs: ws.taskLeaseMs,
      pollMs: 2000,
      log: log.child({ component: 'tasks' }),
      scrub: createScrubber(config.secrets),
      hasSecret: createSecretCheck(config.secrets),
      progress: new TaskProgressReporter({ api: bot.api, log: log.child({ component: 'task-progress' }), onMessage: (taskId, id) => core.services.tasks.rememberProgressMessage(taskId, id) }),
      onReported: () => wake.inbox.wake(),
      observe: core.metrics.taskObserver,
      liveness,
    })
  if (runner) {
    wake.tasks.on(() => runner.wake())
    core.services.status.watchWorkspace(() => runner.disk())
  }
  const scheduler = new Scheduler({
    log: log.child({ component: 'scheduler' }),
    everyMs: config.approvals.sweepMs,
    jobs: [{ name: 'expire approvals', run: () => core.services.approvals.expireDue() }],
    onQueued: () => wake.inbox.wake(),
  })
  // Reminders are due to the second: their own, faster tick (one indexed query per tick).
  const timer = new Scheduler({
    log: log.child({ component: 'schedules' }),
    everyMs: config.schedules.pollMs,
    jobs: [{ name: 'fire schedules', run: () => core.services.schedules.fireDue() }],
    onQueued: () => wake.inbox.wake(),
  })
  return { runner, scheduler, timer }
}

/**
 * Checks once whether bubblewrap works here and says what it found in one line: untrusted programs
 * (aider, test commands, stdio MCP servers, the document reader) are refused while it does not, unless
 * the operator set SANDBOX=off, which is warned about at every start.
 */
async function startSandbox(config: Config, log: Logger): Promise<Sandbox> {
  const sandbox = new Sandbox({ mode: config.sandbox.mode, protect: config.sandbox.protect, path: config.path })
  const state = await sandbox.probe()
  if (state.state === 'unavailable') log.error({ sandbox: state }, `Sandbox unavailable: ${state.reason}. aider, test commands, stdio MCP servers and PDF reading are refused until it works, or SANDBOX=off runs them without it.`)
  else if (state.state === 'off') log.warn({ sandbox: state }, 'SANDBOX=off: aider, test commands, stdio MCP servers and the PDF reader run without a sandbox, with the rights of this service')
  else log.info({ sandbox: state }, 'sandbox ready (bubblewrap)')
  return sandbox
}

/** The longest a start waits for MCP servers to connect. */
const MCP_START_WAIT_MS = 10_000

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

/**
 * The composition root: opens and prepares the database, builds the core, the transport and the
 * workers in that order, and listens. `start()` then connects to Telegram and starts the work.
 */
export async function createApp(config: Config, log: Logger): Promise<App> {
  // A bad MCP file stops the start before anything opens (McpConfigError: one line naming the server).
  const mcpConfigs = config.mcp.configPath ? loadMcpConfig(config.mcp.configPath, config.mcp.environment) : []
  const db = await openDatabase({ url: config.database.url, dataDir: config.database.dataDir, log })
  try {
    await prepareSchema(db, log, config.embeddings.dim)
  } catch (err) {
    await db.close()
    throw err
  }
  const wake: Wakeups = { inbox: new Wakeup(), tasks: new Wakeup() }
  const bot = createBot(config.telegram, log, config.secrets)
  const sandbox = await startSandbox(config, log)
  const core = createCore(config, log, db, bot, wake, sandbox)
  await core.services.access.seed()
  // This process's claims count as held only while it lives: after a crash they are taken over at once.
  const liveness = await ProcessLiveness.acquire(db, log.child({ component: 'liveness' }))
  const { dispatcher, poller } = createTransport(config, log, db, bot, core, wake, liveness)
  const { runner, scheduler, timer } = createWorkers(config, log, db, bot, core, wake, liveness)
  const http = await createIngest(config, log, db, core, wake, dispatcher)
  const port = http.ingest.port
  log.info({ port, host: config.http.host }, 'listening')

  let stopping = false
  return {
    port,
    async start() {
      await initBot(bot, log, () => stopping)
      if (stopping) return
      if (poller) await poller.start()
      else await bot.api.setWebhook(config.telegram.webhookUrl!, { secret_token: config.telegram.webhookSecret, allowed_updates: [...ALLOWED_UPDATES] })
      // MCP servers get a moment to connect before turns run; one that is slow or failing keeps
      // trying in the background, and its tools appear when it connects.
      await Promise.race([core.mcpServers.apply(mcpConfigs), new Promise((r) => setTimeout(r, MCP_START_WAIT_MS).unref())])
      dispatcher.start()
      scheduler.start()
      timer.start()
      runner?.start()
      await publishCommands(bot, config.telegram.adminIds, log, config.workspace !== undefined)
      log.info({ mode: poller ? 'polling' : 'webhook', webhookPath: WEBHOOK_PATH, database: db.kind, port, bot: bot.botInfo.username }, 'service started')
    },
    async stop(graceMs = config.shutdownGraceMs) {
      if (stopping) return
      stopping = true
      http.drain()
      await poller?.stop()
      await scheduler.stop()
      await timer.stop()
      // Both get the same grace, side by side: a task step and a chat's handler end or are handed back.
      await Promise.all([runner?.stop(graceMs), dispatcher.stop(graceMs)])
      await http.ingest.stop()
      await core.mcpServers.stop()
      await liveness.release()
      await db.close()
    },
  }
}
