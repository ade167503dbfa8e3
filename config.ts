import { existsSync } from 'node:fs'
import { resolve } from 'node:path'
import { z } from 'zod'
import { isValidTimeZone } from './domain/schedule-time.ts'
import { GITHUB_REPOSITORY, remoteUrlProblem, REPOSITORY_NAME, repositoryNameOf } from './domain/repositories.ts'

/** Raised when the environment cannot start the service; the message is one line for a person. */
export class ConfigError extends Error {
  override name = 'ConfigError'
  readonly variable: string
  constructor(variable: string, message: string) {
    super(message)
    this.variable = variable
  }
}

const idList = z
  .string()
  .default('')
  .transform((raw, ctx) => {
    const ids: number[] = []
    for (const part of raw.split(',').map((s) => s.trim()).filter(Boolean)) {
      if (!/^-?\d{1,19}$/.test(part)) {
        ctx.addIssue({ code: 'custom', message: `"${part}" is not a numeric Telegram id; use a comma-separated list such as 12345,67890` })
        return z.NEVER
      }
      ids.push(Number(part))
    }
    return ids
  })

const url = (hint: string) => z.url({ error: `must be a URL, ${hint}` }).transform((u) => u.replace(/\/+$/, ''))
const seconds = (fallback: number) => z.coerce.number().positive({ error: 'must be a positive number of seconds' }).default(fallback)
/** A size cap in MB, at most Telegram's 20 MB download limit (getFile refuses bigger files). */
const megabytes = (fallback: number) => z.coerce.number().positive({ error: 'must be a positive number of MB' }).max(20, { error: 'must be at most 20 (Telegram lets bots download files up to 20 MB)' }).default(fallback)
/** An amount of US dollars (a budget); unset: no cap. */
const dollars = () => z.coerce.number().min(0, { error: 'must be an amount of US dollars such as 2.50' }).max(1_000_000).optional()
const count = (fallback: number) => z.coerce.number().int().positive({ error: 'must be a positive whole number' }).default(fallback)

const schema = z
  .object({
    TELEGRAM_BOT_TOKEN: z
      .string({ error: 'is required: create a bot with @BotFather and put its token in .env' })
      .regex(/^\d+:[A-Za-z0-9_-]{20,}$/, { error: 'does not look like a bot token (digits:letters) from @BotFather' }),
    TELEGRAM_API_ROOT: url('for example https://api.telegram.org').default('https://api.telegram.org'),
    TELEGRAM_WEBHOOK_URL: url('the public https address of /telegram/webhook').optional(),
    TELEGRAM_WEBHOOK_SECRET: z
      .string()
      .regex(/^[A-Za-z0-9_-]{1,256}$/, { error: 'must be 1-256 characters of A-Z, a-z, 0-9, _ and -' })
      .optional(),
    TELEGRAM_ADMIN_IDS: idList,
    ALLOWED_USER_IDS: idList,
    DATABASE_URL: z
      .string()
      .regex(/^postgres(ql)?:\/\//, { error: 'must be a postgres:// connection string (or unset for the embedded database)' })
      .optional(),
    DATA_DIR: z.string().min(1).default('./data'),
    OPENROUTER_API_KEY: z.string({ error: 'is required: create a key at openrouter.ai (or your provider) and put it in .env' }).min(1),
    LLM_BASE_URL: url('an OpenAI-compatible endpoint such as https://openrouter.ai/api/v1').default('https://openrouter.ai/api/v1'),
    LLM_MODEL: z.string().min(1).default('openai/gpt-4o-mini'),
    LLM_TIMEOUT_SECONDS: seconds(120),
    LLM_MAX_RETRIES: z.coerce.number().int().min(0).max(10).default(3),
    HISTORY_MAX_MESSAGES: count(40),
    EMBEDDING_MODEL: z.string().min(1).default('openai/text-embedding-3-small'),
    EMBEDDING_DIM: z.coerce.number().int().min(1).max(2000, { error: 'must be at most 2000 (the most pgvector indexes with HNSW)' }).default(1536),
    EMBEDDING_BASE_URL: url('an OpenAI-compatible endpoint with /embeddings').optional(),
    TRANSCRIPTION_BASE_URL: url('an OpenAI-compatible endpoint with /audio/transcriptions, such as https://api.openai.com/v1').optional(),
    TRANSCRIPTION_API_KEY: z.string().min(1).optional(),
    TRANSCRIPTION_MODEL: z.string().min(1).default('whisper-1'),
    VOICE_MAX_MB: megabytes(20),
    PHOTO_MAX_MB: megabytes(10),
    DOCUMENT_MAX_MB: megabytes(10),
    DOCUMENT_MAX_CHARS: count(40_000),
    MCP_CONFIG: z.string().min(1).optional(),
    DEFAULT_TIMEZONE: z.string().refine(isValidTimeZone, { error: 'must be an IANA time zone such as Europe/Berlin or UTC' }).default('UTC'),
    SCHEDULES_PER_PERSON: count(50),
    SCHEDULE_MIN_INTERVAL_SECONDS: count(300),
    SCHEDULE_POLL_MS: count(1000),
    MEMORY_RECALL_LIMIT: z.coerce.number().int().min(0).max(50).default(5),
    MEMORY_MIN_SIMILARITY: z.coerce.number().min(-1).max(1).default(0.3),
    MEMORY_DEDUPE_SIMILARITY: z.coerce.number().min(0).max(1).default(0.92),
    HOST: z.string().min(1).default('0.0.0.0'),
    PORT: z.coerce.number().int().min(0).max(65535, { error: 'must be a TCP port (0-65535)' }).default(3000),
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    INBOX_LEASE_SECONDS: seconds(120),
    INBOX_MAX_ATTEMPTS: count(3),
    DISPATCH_CONCURRENCY: count(8),
    DISPATCH_POLL_MS: count(500),
    BACKLOG_NOTICE_SECONDS: z.coerce.number().min(0, { error: 'must be 0 (off) or a number of seconds' }).default(30),
    SHUTDOWN_GRACE_SECONDS: seconds(20),
    APPROVAL_TIMEOUT_MINUTES: z.coerce.number().positive({ error: 'must be a positive number of minutes' }).default(30),
    APPROVAL_SWEEP_SECONDS: seconds(15),
    GIT_REMOTE_URL: z
      .string()
      .refine((v) => remoteUrlProblem(v) !== 'format', {
        error: 'must be an https://, ssh:// or git@host: address of the repository (or an absolute path)',
      })
      .refine((v) => remoteUrlProblem(v) !== 'credentials', { error: 'must not hold credentials: put the token in GIT_ACCESS_TOKEN instead' })
      .optional(),
    GIT_REPOSITORY_NAME: z.string().regex(REPOSITORY_NAME, { error: 'must be 2 to 32 lowercase letters, digits, - or _, starting with a letter' }).optional(),
    GIT_ACCESS_TOKEN: z.string().min(1).optional(),
    GIT_PUSH_BRANCH: z
      .string()
      .regex(/^(?!-)(?!.*\.\.)[A-Za-z0-9._/-]{1,100}$/, { error: 'must be a branch name such as main' })
      .optional(),
    GITHUB_API_URL: url('the GitHub REST API, https://api.github.com (or your GitHub Enterprise /api/v3)').default('https://api.github.com'),
    GITHUB_REPOSITORY: z
      .string()
      .regex(GITHUB_REPOSITORY, { error: 'must be owner/name, such as acme/widgets' })
      .optional(),
    GIT_AUTHOR_NAME: z.string().min(1).default('Mechanic'),
    GIT_AUTHOR_EMAIL: z.email({ error: 'must be an email address' }).default('mechanic@localhost.localdomain'),
    AIDER_BIN: z.string().min(1).default('aider'),
    AIDER_MODEL: z.string().min(1).optional(),
    AIDER_TIMEOUT_SECONDS: seconds(600),
    WORKSPACE_DIR: z.string().min(1).optional(),
    TASK_LEASE_SECONDS: seconds(60),
    TASK_CONCURRENCY: count(2),
    TASK_TEST_COMMAND: z.string().min(1).max(2000, { error: 'must be at most 2000 characters' }).optional(),
    TASK_TEST_TIMEOUT_SECONDS: seconds(300),
    RATE_LIMIT_MESSAGES: z.coerce.number().int().min(0, { error: 'must be 0 (off) or a positive whole number' }).default(20),
    RATE_LIMIT_WINDOW_SECONDS: seconds(60),
    COMMIT_SHA: z.string().regex(/^[0-9a-f]{7,40}$/, { error: 'must be a git commit hash' }).optional(),
    PATH: z.string().optional(),
    SANDBOX: z.enum(['on', 'off'], { error: 'must be on (aider, test commands, MCP servers and the document reader run in bubblewrap) or off (they run bare: only where the kernel refuses user namespaces and you accept the risk)' }).default('on'),
    TEST_TOOL_FILE: z.string().min(1).optional(),
    MODEL_PRICES: z.string().min(1).optional(),
    BUDGET_USER_DAILY: dollars(),
    BUDGET_USER_MONTHLY: dollars(),
    BUDGET_TASK: dollars(),
    BUDGET_ADMINS_EXEMPT: z.enum(['true', 'false'], { error: 'must be true or false' }).default('false'),
  })
  .superRefine((env, ctx) => {
    if (env.TELEGRAM_WEBHOOK_URL && !env.TELEGRAM_WEBHOOK_SECRET) {
      ctx.addIssue({
        code: 'custom',
        path: ['TELEGRAM_WEBHOOK_SECRET'],
        message: 'is required in webhook mode: set it to a random string such as the output of `openssl rand -hex 32`',
      })
    }
  })

type Env = z.output<typeof schema>

/** Every environment variable the service reads (for the tests that hold the docs to the code). */
export const CONFIG_VARIABLES: readonly string[] = Object.keys(schema.shape)

/** The service's whole configuration, parsed once from the environment. */
export interface Config {
  telegram: {
    token: string
    apiRoot: string
    webhookUrl: string | undefined
    webhookSecret: string | undefined
    adminIds: number[]
    allowedUserIds: number[]
  }
  database: { url: string | undefined; dataDir: string }
  llm: { apiKey: string; baseUrl: string; model: string; timeoutMs: number; maxRetries: number; historyMaxMessages: number }
  embeddings: { apiKey: string; baseUrl: string; model: string; dim: number; timeoutMs: number; maxRetries: number }
  memory: { recallLimit: number; minSimilarity: number; dedupeSimilarity: number }
  /** Speech to text for voice notes, audio and video notes. */
  transcription: { apiKey: string; baseUrl: string; model: string; timeoutMs: number; maxRetries: number }
  /**
   * MCP servers: the configuration file (`mcpServers` JSON; undefined: none), the environment its
   * `${VAR}`s are taken from, and what every stdio server gets of ours (PATH, nothing else; HOME is a folder of its own).
   */
  mcp: { configPath: string | undefined; environment: Readonly<Record<string, string | undefined>>; baseEnv: { PATH: string | undefined } }
  /** Reminders and jobs: the default zone, the caps, and how often due ones are looked for. */
  schedules: { defaultTimeZone: string; perPerson: number; minIntervalSeconds: number; pollMs: number }
  /** What people may send besides text: caps checked before a download, and how much of a document is read. */
  media: { voiceMaxBytes: number; photoMaxBytes: number; documentMaxBytes: number; documentMaxChars: number }
  http: { host: string; port: number }
  logLevel: Env['LOG_LEVEL']
  inbox: { leaseMs: number; maxAttempts: number; concurrency: number; pollMs: number; backlogNoticeSeconds: number }
  shutdownGraceMs: number
  approvals: { timeoutMs: number; sweepMs: number }
  /** Messages per person per window; `messages` 0 turns it off. */
  rateLimit: { messages: number; windowMs: number }
  /** The commit the running build came from (set at image build), for /status. */
  commit: string | undefined
  /** The coder's repository and aider; undefined when GIT_REMOTE_URL is unset (no coder). */
  workspace:
    | {
        /** The configured repository's name (GIT_REPOSITORY_NAME, else from its address); admins add more with /repos. */
        name: string
        remoteUrl: string
        accessToken: string | undefined
        /** Tokens for other hosts, by variable (GIT_TOKEN_GITLAB_EXAMPLE_COM): for repositories added with /repos. */
        hostTokens: Record<string, string>
        /** The GitHub REST API that pull requests go through. */
        githubApiUrl: string
        pushBranch: string | undefined
        author: { name: string; email: string }
        dir: string
        aiderBin: string
        aiderModel: string
        aiderTimeoutMs: number
        taskLeaseMs: number
        /** Coding tasks run side by side, each in a worktree of its own. */
        taskConcurrency: number
        /** The command run in a task's worktree after aider's edit (its result shown in the review); undefined: none. */
        tests: { command: string; timeoutMs: number } | undefined
        /** How long any repository's test command may run. */
        testTimeoutMs: number
        /** GITHUB_REPOSITORY: where the configured repository's pull requests go when its remote is not on github.com. */
        githubRepository: string | undefined
      }
    | undefined
  /** PATH for the subprocesses (git, aider). */
  path: string | undefined
  /**
   * The sandbox every program we did not write runs in: `on` (bubblewrap, refused where it cannot
   * work) or `off`; `protect` are the service's own paths no sandbox may show (its data, its
   * workspace, its home, its .env).
   */
  sandbox: { mode: 'on' | 'off'; protect: string[] }
  /** Testing only: enables a tool that appends to this file and needs approval. */
  testToolFile: string | undefined
  /** Prices for calls whose provider reports no cost, and the budgets' defaults (US dollars; undefined: no cap). */
  costs: {
    pricesFile: string | undefined
    budgets: { userDaily: number | undefined; userMonthly: number | undefined; task: number | undefined; adminsExempt: boolean }
  }
  /** Every secret value, so logs can scrub them wherever they turn up. */
  secrets: string[]
}

/** GIT_TOKEN_<HOST> variables: tokens for the hosts of repositories added with /repos. */
const hostTokensOf = (raw: Readonly<Record<string, string | undefined>>): Record<string, string> =>
  Object.fromEntries(Object.entries(raw).filter((e): e is [string, string] => /^GIT_TOKEN_[A-Z0-9_]+$/.test(e[0]) && typeof e[1] === 'string' && e[1].length > 0))

function toConfig(env: Env, raw: Readonly<Record<string, string | undefined>>): Config {
  const hostTokens = hostTokensOf(raw)
  const secrets = [env.TELEGRAM_BOT_TOKEN, env.OPENROUTER_API_KEY, env.TELEGRAM_WEBHOOK_SECRET, env.DATABASE_URL, env.GIT_ACCESS_TOKEN, env.TRANSCRIPTION_API_KEY, ...Object.values(hostTokens)]
  const mb = (n: number) => Math.round(n * 1024 * 1024)
  return {
    telegram: {
      token: env.TELEGRAM_BOT_TOKEN,
      apiRoot: env.TELEGRAM_API_ROOT,
      webhookUrl: env.TELEGRAM_WEBHOOK_URL,
      webhookSecret: env.TELEGRAM_WEBHOOK_SECRET,
      adminIds: env.TELEGRAM_ADMIN_IDS,
      allowedUserIds: env.ALLOWED_USER_IDS,
    },
    database: { url: env.DATABASE_URL, dataDir: env.DATA_DIR },
    llm: {
      apiKey: env.OPENROUTER_API_KEY,
      baseUrl: env.LLM_BASE_URL,
      model: env.LLM_MODEL,
      timeoutMs: env.LLM_TIMEOUT_SECONDS * 1000,
      maxRetries: env.LLM_MAX_RETRIES,
      historyMaxMessages: env.HISTORY_MAX_MESSAGES,
    },
    embeddings: {
      apiKey: env.OPENROUTER_API_KEY,
      baseUrl: env.EMBEDDING_BASE_URL ?? env.LLM_BASE_URL,
      model: env.EMBEDDING_MODEL,
      dim: env.EMBEDDING_DIM,
      timeoutMs: env.LLM_TIMEOUT_SECONDS * 1000,
      maxRetries: env.LLM_MAX_RETRIES,
    },
    transcription: {
      // The model key goes only to the model's own endpoint: another host gets its own key, or none.
      apiKey: env.TRANSCRIPTION_API_KEY ?? (env.TRANSCRIPTION_BASE_URL ? 'no-key-set' : env.OPENROUTER_API_KEY),
      baseUrl: env.TRANSCRIPTION_BASE_URL ?? env.LLM_BASE_URL,
      model: env.TRANSCRIPTION_MODEL,
      timeoutMs: env.LLM_TIMEOUT_SECONDS * 1000,
      maxRetries: env.LLM_MAX_RETRIES,
    },
    mcp: { configPath: env.MCP_CONFIG, environment: raw, baseEnv: { PATH: env.PATH } },
    schedules: { defaultTimeZone: env.DEFAULT_TIMEZONE, perPerson: env.SCHEDULES_PER_PERSON, minIntervalSeconds: env.SCHEDULE_MIN_INTERVAL_SECONDS, pollMs: env.SCHEDULE_POLL_MS },
    media: { voiceMaxBytes: mb(env.VOICE_MAX_MB), photoMaxBytes: mb(env.PHOTO_MAX_MB), documentMaxBytes: mb(env.DOCUMENT_MAX_MB), documentMaxChars: env.DOCUMENT_MAX_CHARS },
    memory: { recallLimit: env.MEMORY_RECALL_LIMIT, minSimilarity: env.MEMORY_MIN_SIMILARITY, dedupeSimilarity: env.MEMORY_DEDUPE_SIMILARITY },
    http: { host: env.HOST, port: env.PORT },
    logLevel: env.LOG_LEVEL,
    inbox: {
      leaseMs: env.INBOX_LEASE_SECONDS * 1000,
      maxAttempts: env.INBOX_MAX_ATTEMPTS,
      concurrency: env.DISPATCH_CONCURRENCY,
      pollMs: env.DISPATCH_POLL_MS,
      backlogNoticeSeconds: env.BACKLOG_NOTICE_SECONDS,
    },
    shutdownGraceMs: env.SHUTDOWN_GRACE_SECONDS * 1000,
    approvals: { timeoutMs: env.APPROVAL_TIMEOUT_MINUTES * 60_000, sweepMs: env.APPROVAL_SWEEP_SECONDS * 1000 },
    rateLimit: { messages: env.RATE_LIMIT_MESSAGES, windowMs: env.RATE_LIMIT_WINDOW_SECONDS * 1000 },
    commit: env.COMMIT_SHA,
    workspace: env.GIT_REMOTE_URL
      ? {
          name: env.GIT_REPOSITORY_NAME ?? repositoryNameOf(env.GIT_REMOTE_URL),
          remoteUrl: env.GIT_REMOTE_URL,
          accessToken: env.GIT_ACCESS_TOKEN,
          hostTokens,
          githubApiUrl: env.GITHUB_API_URL,
          pushBranch: env.GIT_PUSH_BRANCH,
          author: { name: env.GIT_AUTHOR_NAME, email: env.GIT_AUTHOR_EMAIL },
          dir: env.WORKSPACE_DIR ?? `${env.DATA_DIR.replace(/\/+$/, '')}/workspace`,
          aiderBin: env.AIDER_BIN,
          aiderModel: env.AIDER_MODEL ?? env.LLM_MODEL,
          aiderTimeoutMs: env.AIDER_TIMEOUT_SECONDS * 1000,
          taskLeaseMs: env.TASK_LEASE_SECONDS * 1000,
          taskConcurrency: env.TASK_CONCURRENCY,
          tests: env.TASK_TEST_COMMAND ? { command: env.TASK_TEST_COMMAND, timeoutMs: env.TASK_TEST_TIMEOUT_SECONDS * 1000 } : undefined,
          testTimeoutMs: env.TASK_TEST_TIMEOUT_SECONDS * 1000,
          githubRepository: env.GITHUB_REPOSITORY,
        }
      : undefined,
    path: env.PATH,
    sandbox: {
      mode: env.SANDBOX,
      protect: [env.DATA_DIR, env.WORKSPACE_DIR, raw.HOME, existsSync('.env') ? '.env' : undefined].filter((p): p is string => Boolean(p)).map((p) => resolve(p)),
    },
    testToolFile: env.TEST_TOOL_FILE,
    costs: {
      pricesFile: env.MODEL_PRICES,
      budgets: { userDaily: env.BUDGET_USER_DAILY, userMonthly: env.BUDGET_USER_MONTHLY, task: env.BUDGET_TASK, adminsExempt: env.BUDGET_ADMINS_EXEMPT === 'true' },
    },
    secrets: secrets.filter((s): s is string => Boolean(s)),
  }
}

/**
 * Parses the configuration from an environment (default: `process.env`, after reading `.env` if present).
 * Empty strings count as unset. Throws a ConfigError naming the first bad variable.
 */
export function loadConfig(env: NodeJS.ProcessEnv = readProcessEnv()): Config {
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''))
  const parsed = schema.safeParse(cleaned)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    const variable = String(issue?.path[0] ?? 'environment')
    throw new ConfigError(variable, `Configuration error: ${variable} ${issue?.message ?? 'is invalid'}.`)
  }
  return toConfig(parsed.data, cleaned)
}

function readProcessEnv(): NodeJS.ProcessEnv {
  // Variables already in the environment win over .env, so a deploy's secrets are never shadowed.
  if (existsSync('.env')) process.loadEnvFile('.env')
  // The service computes in explicit zones; the process itself runs in UTC, because chrono does some
  // relative-time arithmetic in the process's zone (off by an hour near that zone's DST change).
  process.env.TZ = 'UTC'
  return process.env
}
