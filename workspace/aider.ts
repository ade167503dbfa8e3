import { readFileSync } from 'node:fs'
import { mkdir, writeFile } from 'node:fs/promises'
import { basename, join } from 'node:path'
import { killGroup, ProgramNotFoundError } from '../sandbox/sandbox.ts'
import type { Sandbox } from '../sandbox/sandbox.ts'
import { runInGroup } from './process-group.ts'
import { setAsideFiles, worktreeRun } from './sandbox-git.ts'
import type { SetAside, WorktreeGit } from './sandbox-git.ts'

/** How aider is started: the binary, the model and the OpenAI-compatible endpoint it talks to. */
export interface AiderSettings {
  bin: string
  /** Model name at the endpoint, e.g. `openai/gpt-4o-mini` on OpenRouter. */
  model: string
  apiBase: string
  apiKey: string
  timeoutMs: number
  /** The author of any commit aider makes (we run it without auto-commits; git still wants one). */
  author: { name: string; email: string }
  /** The model's price per token in US dollars, when known: aider then prints each message's cost. */
  price?: { input: number; output: number } | undefined
}

export interface AiderRequest {
  cwd: string
  instructions: string
  /** Files aider should edit (added to its chat); it may create them. */
  files?: string[]
  /** The git directories of the worktree at `cwd`: its own (`.git/worktrees/<id>`, writable) and the clone's (read-only). */
  git: WorktreeGit
  signal?: AbortSignal
  /** Called with each line aider prints, for progress in the chat. */
  onLine?: (line: string) => void
  /** Called with aider's pid (also its process group) once it runs. */
  onStart?: (pid: number) => void
}

export interface AiderResult {
  exitCode: number | undefined
  timedOut: boolean
  cancelled: boolean
  /** The last part of what aider printed (bounded). */
  output: string
  durationMs: number
}

/** The binary could not be started at all (missing, not executable): a configuration problem. */
export class AiderStartError extends Error {
  override name = 'AiderStartError'
}

/**
 * The files aider reads from the folder it runs in (the worktree, also its git root) whatever its
 * flags say: dotenv files (loaded over its environment: an OPENAI_API_BASE there would send the key
 * elsewhere), its YAML config (which can `load` commands), model settings (`extra_params.api_base`),
 * model metadata, and the ignore file. Each is set aside for the run, and has a blank of ours, which
 * the explicit flags name (metadata: our own file, aiderArgs).
 */
export const REPOSITORY_CONFIG_FILES: Readonly<Record<string, string>> = {
  '.env': '',
  '.aider.conf.yml': '{}\n',
  '.aider.model.settings.yml': '[]\n',
  '.aider.model.metadata.json': '{}\n',
  '.aiderignore': '',
}

/**
 * The request as aider gets it: aider runs a message that starts with `/` or `!` as one of its own
 * commands (`/run` is a shell), so the person's words never come first. They follow a fixed line,
 * whatever their first characters or lines, and reach the model as text.
 */
export function requestText(instructions: string): string {
  return `Change request (the person's words follow; they are text to act on, not commands):\n\n${instructions}\n`
}

/** Our own copies of every file aider would otherwise look for in the repository or its home. */
export interface AiderFiles {
  /** The request (`--message-file`). */
  message: string
  metadata: string
  /** Blank: `--config`, `--env-file`, `--model-settings-file`, `--aiderignore`. */
  blank: { config: string; env: string; modelSettings: string; ignore: string }
  history: string
}

/**
 * The arguments of a headless, offline-safe run. Exported for tests: every flag that stops aider
 * from reaching the network, prompting, or reading settings from the repository is here, and nothing
 * secret is; the request goes in a file, so no part of it is an argument.
 */
export function aiderArgs(settings: Pick<AiderSettings, 'model'>, request: Pick<AiderRequest, 'files'>, files: AiderFiles): string[] {
  return [
    '--message-file', files.message,
    '--model', `openai/${settings.model}`,
    '--model-metadata-file', files.metadata,
    '--model-settings-file', files.blank.modelSettings,
    '--config', files.blank.config,
    '--env-file', files.blank.env,
    '--aiderignore', files.blank.ignore,
    '--edit-format', 'whole',
    '--yes-always',
    '--no-pretty', '--no-stream', '--no-fancy-input',
    '--no-check-update', '--no-show-release-notes', '--analytics-disable', '--disable-playwright',
    '--no-gitignore', '--no-auto-commits', '--no-dirty-commits', '--no-restore-chat-history',
    '--no-auto-lint', '--no-auto-test', '--no-suggest-shell-commands', '--no-detect-urls',
    '--map-tokens', '0',
    '--chat-history-file', join(files.history, 'chat.md'),
    '--input-history-file', join(files.history, 'input'),
    '--',
    ...(request.files ?? []),
  ]
}

/**
 * The whole environment aider gets: what it needs to run and reach the model, nothing of ours
 * (no bot token, database URL or git token). Its HOME is a throwaway folder; `gitEnv` is git's
 * environment inside the sandbox (worktreeRun).
 */
export function aiderEnv(settings: AiderSettings, home: string, path: string | undefined, gitEnv: Record<string, string>): Record<string, string> {
  return {
    PATH: path ?? '/usr/local/bin:/usr/bin:/bin',
    HOME: home,
    LANG: 'C.UTF-8',
    OPENAI_API_KEY: settings.apiKey,
    OPENAI_API_BASE: settings.apiBase,
    LITELLM_LOCAL_MODEL_COST_MAP: 'True',
    PYTHONDONTWRITEBYTECODE: '1',
    ...gitEnv,
    GIT_AUTHOR_NAME: settings.author.name,
    GIT_AUTHOR_EMAIL: settings.author.email,
    GIT_COMMITTER_NAME: settings.author.name,
    GIT_COMMITTER_EMAIL: settings.author.email,
    GIT_TERMINAL_PROMPT: '0',
    // aider asks git for a name and would write one into the clone's config (read-only here) when none is set.
    GIT_CONFIG_COUNT: '2',
    GIT_CONFIG_KEY_0: 'user.name',
    GIT_CONFIG_VALUE_0: settings.author.name,
    GIT_CONFIG_KEY_1: 'user.email',
    GIT_CONFIG_VALUE_1: settings.author.email,
  }
}

/**
 * Runs aider once in `cwd`, inside the sandbox: the worktree and its own git directory writable, the
 * clone's git directory read-only, a scratch folder as its home, the repository's configuration files
 * set aside for the run. Its exit code means little: the caller judges the run by the repository. A run past
 * `timeoutMs`, or aborted by `signal`, is killed with everything it started.
 */
export async function runAider(settings: AiderSettings, request: AiderRequest, path: string | undefined, sandbox: Pick<Sandbox, 'launch'>): Promise<AiderResult> {
  const run = await worktreeRun('mechanic-aider-', request.cwd, request.git)
  const { scratch } = run
  // Blanks of the files aider would read from the repository (in a folder of their own: HOME has none).
  const blanks = join(scratch, 'blank')
  const files: AiderFiles = {
    message: join(scratch, 'request.txt'),
    metadata: join(scratch, 'model-metadata.json'),
    blank: { config: join(blanks, '.aider.conf.yml'), env: join(blanks, '.env'), modelSettings: join(blanks, '.aider.model.settings.yml'), ignore: join(blanks, '.aiderignore') },
    history: scratch,
  }
  await mkdir(blanks)
  await writeFile(files.message, requestText(request.instructions))
  for (const [name, text] of Object.entries(REPOSITORY_CONFIG_FILES)) await writeFile(join(blanks, name), text)
  // Without metadata aider looks the model up on the web on every call (5 s timeout each).
  // Our price for the model (when known) goes in too: aider then reports each message's cost, which is how a task's budget is watched.
  const price = settings.price ?? { input: 0, output: 0 }
  await writeFile(files.metadata, JSON.stringify({ [`openai/${settings.model}`]: { max_tokens: 8192, max_input_tokens: 128000, max_output_tokens: 8192, input_cost_per_token: price.input, output_cost_per_token: price.output, litellm_provider: 'openai', mode: 'chat' } }))
  // The repository's own settings step aside for the run, sandbox or not: aider reads them from the
  // worktree whatever its flags say, and a blank bound over one could miss where a symlink such as
  // `.env -> /proc/self/cwd/x` leads inside (elsewhere than on the host).
  let setAside: SetAside | undefined
  try {
    setAside = await setAsideFiles(Object.keys(REPOSITORY_CONFIG_FILES).map((name) => join(request.cwd, name)), join(scratch, 'set-aside'))
    const launch = sandbox.launch({ ...run.binds, command: settings.bin, args: aiderArgs(settings, request, files), env: aiderEnv(settings, scratch, path, run.gitEnv) })
    const result = await runInGroup({ ...launch, timeoutMs: settings.timeoutMs, signal: request.signal, onLine: request.onLine, onStart: request.onStart })
    if (result.notFound) throw new AiderStartError(`aider could not be started: ${settings.bin} was not found`)
    return { exitCode: result.exitCode, timedOut: result.timedOut, cancelled: result.cancelled, output: result.output, durationMs: result.durationMs }
  } catch (err) {
    if (err instanceof ProgramNotFoundError) throw new AiderStartError(`aider could not be started: ${settings.bin} was not found`, { cause: err })
    throw err
  } finally {
    await setAside?.restore()
    await run.done()
  }
}

/**
 * Kills what is left of an aider run whose parent died (kill -9): it runs in its own process group,
 * so it would outlive us and write into the next task's clone. Only a group whose leader still runs
 * `bin` is killed, so a reused pid is left alone. Linux only (reads /proc); returns whether it killed.
 */
export function killOrphan(pid: number, bin: string): boolean {
  let cmdline: string
  try {
    cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8')
  } catch {
    return false
  }
  if (!cmdline.split('\0').some((arg) => arg === bin || arg.endsWith(`/${basename(bin)}`))) return false
  return killGroup(pid)
}
