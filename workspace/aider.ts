import { readFileSync } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { basename, join } from 'node:path'
import { runInGroup } from './process-group.ts'

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
 * The arguments of a headless, offline-safe run. Exported for tests: every flag that stops aider
 * from reaching the network or prompting is here, and nothing secret is.
 */
export function aiderArgs(settings: Pick<AiderSettings, 'model'>, request: Pick<AiderRequest, 'instructions' | 'files'>, paths: { metadata: string; history: string }): string[] {
  return [
    '--message', request.instructions,
    '--model', `openai/${settings.model}`,
    '--model-metadata-file', paths.metadata,
    '--edit-format', 'whole',
    '--yes-always',
    '--no-pretty', '--no-stream', '--no-fancy-input',
    '--no-check-update', '--no-show-release-notes', '--analytics-disable', '--disable-playwright',
    '--no-gitignore', '--no-auto-commits', '--no-dirty-commits',
    '--no-auto-lint', '--no-auto-test', '--no-suggest-shell-commands', '--no-detect-urls',
    '--map-tokens', '0',
    '--chat-history-file', join(paths.history, 'chat.md'),
    '--input-history-file', join(paths.history, 'input'),
    '--',
    ...(request.files ?? []),
  ]
}

/**
 * The whole environment aider gets: what it needs to run and reach the model, nothing of ours
 * (no bot token, database URL or git token). Its HOME is a throwaway folder.
 */
export function aiderEnv(settings: AiderSettings, home: string, path: string | undefined): Record<string, string> {
  return {
    PATH: path ?? '/usr/local/bin:/usr/bin:/bin',
    HOME: home,
    LANG: 'C.UTF-8',
    OPENAI_API_KEY: settings.apiKey,
    OPENAI_API_BASE: settings.apiBase,
    LITELLM_LOCAL_MODEL_COST_MAP: 'True',
    GIT_AUTHOR_NAME: settings.author.name,
    GIT_AUTHOR_EMAIL: settings.author.email,
    GIT_COMMITTER_NAME: settings.author.name,
    GIT_COMMITTER_EMAIL: settings.author.email,
    GIT_TERMINAL_PROMPT: '0',
  }
}

/**
 * Runs aider once in `cwd`. Its exit code means little: the caller judges the run by the repository.
 * A run past `timeoutMs`, or aborted by `signal`, has its whole process group killed.
 */
export async function runAider(settings: AiderSettings, request: AiderRequest, path: string | undefined): Promise<AiderResult> {
  const scratch = await mkdtemp(join(tmpdir(), 'mechanic-aider-'))
  const metadata = join(scratch, 'model-metadata.json')
  // Without metadata aider looks the model up on the web on every call (5 s timeout each).
  // Our price for the model (when known) goes in too: aider then reports each message's cost, which is how a task's budget is watched.
  const price = settings.price ?? { input: 0, output: 0 }
  await writeFile(metadata, JSON.stringify({ [`openai/${settings.model}`]: { max_tokens: 8192, max_input_tokens: 128000, max_output_tokens: 8192, input_cost_per_token: price.input, output_cost_per_token: price.output, litellm_provider: 'openai', mode: 'chat' } }))
  try {
    const result = await runInGroup({
      file: settings.bin,
      args: aiderArgs(settings, request, { metadata, history: scratch }),
      cwd: request.cwd,
      env: aiderEnv(settings, scratch, path),
      timeoutMs: settings.timeoutMs,
      signal: request.signal,
      onLine: request.onLine,
      onStart: request.onStart,
    })
    if (result.notFound) throw new AiderStartError(`aider could not be started: ${settings.bin} was not found`)
    return { exitCode: result.exitCode, timedOut: result.timedOut, cancelled: result.cancelled, output: result.output, durationMs: result.durationMs }
  } finally {
    await rm(scratch, { recursive: true, force: true })
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
  try {
    process.kill(-pid, 'SIGKILL')
    return true
  } catch {
    return false
  }
}
