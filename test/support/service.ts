import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { waitUntil } from './http.ts'

const MAIN = fileURLToPath(new URL('../../main.ts', import.meta.url))
const ROOT = fileURLToPath(new URL('../../', import.meta.url))

/** A log line of the service, parsed. */
export type LogLine = Record<string, unknown> & { msg?: string; level?: number }

/**
 * The real service as a child process, started with the same command as `npm start`
 * (`node main.ts`), on a free port, with its output captured for assertions.
 */
export class ServiceProcess {
  readonly output: string[] = []
  readonly child: ChildProcess
  port = 0
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>

  private constructor(env: Record<string, string>, cwd: string, entry = MAIN) {
    this.child = spawn(process.execPath, [entry], {
      cwd,
      // Only what the test gives: nothing of the developer's environment leaks in.
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let partial = ''
    const onData = (chunk: Buffer) => {
      const lines = (partial + chunk.toString('utf8')).split('\n')
      partial = lines.pop() ?? ''
      this.output.push(...lines)
    }
    this.child.stdout?.on('data', onData)
    this.child.stderr?.on('data', onData)
    this.exited = new Promise((resolve) => this.child.once('exit', (code, signal) => {
      if (partial) this.output.push(partial)
      resolve({ code, signal })
    }))
  }

  /** Starts the service and waits until it says "service started". */
  static async start(env: Record<string, string>, opts: { cwd?: string; entry?: string; timeoutMs?: number } = {}): Promise<ServiceProcess> {
    const service = ServiceProcess.spawn(env, opts)
    const started = await Promise.race([
      service.waitForLog((l) => l.msg === 'service started', opts.timeoutMs ?? 60_000),
      service.exited.then(({ code }) => {
        throw new Error(`service exited (code ${code}) before starting:\n${service.output.join('\n')}`)
      }),
    ])
    service.port = Number(started.port)
    return service
  }

  /** Spawns without waiting (for tests of failed starts). */
  static spawn(env: Record<string, string>, opts: { cwd?: string; entry?: string } = {}): ServiceProcess {
    return new ServiceProcess(env, opts.cwd ?? ROOT, opts.entry)
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`
  }

  logs(): LogLine[] {
    return this.output.flatMap((line) => {
      try {
        return [JSON.parse(line) as LogLine]
      } catch {
        return []
      }
    })
  }

  async waitForLog(predicate: (l: LogLine) => boolean, timeoutMs = 20_000): Promise<LogLine> {
    return waitUntil(() => this.logs().find(predicate), 'a log line', timeoutMs)
  }

  /** POSTs an update to the webhook as Telegram does. */
  async deliver(update: unknown, secret: string | undefined): Promise<Response> {
    return fetch(`${this.url}/telegram/webhook`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(secret !== undefined && { 'x-telegram-bot-api-secret-token': secret }) },
      body: JSON.stringify(update),
    })
  }

  async health(): Promise<{ status: number; body: Record<string, unknown> }> {
    const res = await fetch(`${this.url}/health`)
    return { status: res.status, body: (await res.json()) as Record<string, unknown> }
  }

  /** Updates waiting or running in the inbox, as /health reports them. */
  async inboxDepth(): Promise<number> {
    return ((await this.health()).body.components as { inbox: { depth: number } }).inbox.depth
  }

  /** Waits until the inbox is empty: every update stored so far was handled. */
  async drained(timeoutMs: number): Promise<void> {
    await waitUntil(async () => (await this.inboxDepth()) === 0 || undefined, 'the inbox to drain', timeoutMs)
  }

  /** Sends SIGTERM and waits for the exit. */
  async stop(): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGTERM')
    return this.exited
  }

  async kill9(): Promise<void> {
    this.child.kill('SIGKILL')
    await this.exited
  }
}
