import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { ReadBuffer, serializeMessage } from '@modelcontextprotocol/sdk/shared/stdio.js'
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js'
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js'
import { killGroup } from '../../sandbox/sandbox.ts'

/** How long a server has to exit after SIGTERM before its process group gets SIGKILL. */
const KILL_GRACE_MS = 2000
/** The last lines a server wrote to stderr, kept for `/mcp` and the log when it fails. */
const STDERR_LINES = 20

export interface StdioParams {
  command: string
  args: readonly string[]
  /** The server's whole environment (the caller adds PATH and HOME): nothing of ours leaks in. */
  env: Record<string, string>
  cwd?: string | undefined
}

/**
 * The MCP stdio transport with the process handling a service needs: the server runs in its own
 * process group, so closing the transport (on stop, a timeout or a reload) kills the server and
 * everything it started (an `npx` wrapper's child, a shell's), SIGTERM first and SIGKILL after a
 * grace; its environment is exactly the one given; its stderr is kept (the last lines) for diagnosis.
 * The SDK's own StdioClientTransport inherits part of our environment and kills only the direct child.
 */
export class GroupStdioTransport implements Transport {
  onclose?: () => void
  onerror?: (error: Error) => void
  onmessage?: (message: JSONRPCMessage) => void

  readonly #params: StdioParams
  readonly #buffer = new ReadBuffer()
  readonly stderrTail: string[] = []
  #child: ChildProcess | undefined
  #exited: Promise<void> | undefined

  constructor(params: StdioParams) {
    this.#params = params
  }

  get pid(): number | undefined {
    return this.#child?.pid
  }

  start(): Promise<void> {
    if (this.#child) throw new Error('GroupStdioTransport already started')
    return new Promise((resolve, reject) => {
      const child = spawn(this.#params.command, [...this.#params.args], {
        env: this.#params.env,
        cwd: this.#params.cwd,
        stdio: ['pipe', 'pipe', 'pipe'],
        detached: true, // its own process group: -pid reaches everything it starts
      })
      this.#child = child
      this.#exited = new Promise((done) => child.once('close', () => done()))
      child.once('error', (err) => {
        reject(err)
        this.onerror?.(err)
      })
      child.once('spawn', () => resolve())
      child.once('close', () => {
        this.#child = undefined
        this.onclose?.()
      })
      child.stdout.on('data', (chunk: Buffer) => {
        this.#buffer.append(chunk)
        for (;;) {
          let message: JSONRPCMessage | null
          try {
            message = this.#buffer.readMessage()
          } catch (err) {
            this.onerror?.(err as Error)
            continue
          }
          if (message === null) break
          this.onmessage?.(message)
        }
      })
      let partial = ''
      child.stderr.on('data', (chunk: Buffer) => {
        const lines = (partial + chunk.toString('utf8')).split('\n')
        partial = lines.pop() ?? ''
        this.stderrTail.push(...lines.filter(Boolean).map((l) => l.slice(0, 500)))
        this.stderrTail.splice(0, Math.max(0, this.stderrTail.length - STDERR_LINES))
      })
      child.stdin.on('error', (err) => this.onerror?.(err))
    })
  }

  send(message: JSONRPCMessage): Promise<void> {
    const stdin = this.#child?.stdin
    if (!stdin) return Promise.reject(new Error('the server process is not running'))
    return new Promise((resolve) => {
      if (stdin.write(serializeMessage(message))) resolve()
      else stdin.once('drain', resolve)
    })
  }

  /** Ends the server: stdin closed, SIGTERM to its group, SIGKILL after the grace. Waits for the exit. */
  async close(): Promise<void> {
    const child = this.#child
    if (!child?.pid) return
    child.stdin?.end()
    killGroup(child.pid, 'SIGTERM')
    const timer = setTimeout(() => killGroup(child.pid!, 'SIGKILL'), KILL_GRACE_MS)
    await this.#exited
    clearTimeout(timer)
    // The leader may exit before the rest of its group: make sure nothing is left.
    killGroup(child.pid, 'SIGKILL')
  }
}
