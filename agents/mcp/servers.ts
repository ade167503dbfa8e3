import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js'
import { McpError } from '@modelcontextprotocol/sdk/types.js'
import type { CallToolResult, Tool } from '@modelcontextprotocol/sdk/types.js'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Logger } from '../../logger.ts'
import type { Sandbox } from '../../sandbox/sandbox.ts'
import { KindedError } from '../../domain/failure.ts'
import { createScrubber } from '../../logger.ts'
import { serverSecrets } from './config.ts'
import type { McpServerConfig } from './config.ts'
import { GroupStdioTransport } from './stdio.ts'

/** A tool as a server lists it. */
export type McpTool = Pick<Tool, 'name' | 'description' | 'inputSchema' | 'annotations'>

export type ServerState = 'connecting' | 'connected' | 'failing' | 'stopped'

/** What `/mcp` and `/health` show of a server. */
export interface ServerStatus {
  name: string
  transport: McpServerConfig['transport']
  state: ServerState
  tools: McpTool[]
  lastError: string | undefined
  /** Time from starting to connect to having the tool list, for the last successful connection. */
  startupMs: number | undefined
}

/** A call could not be made: the server is not connected, the call timed out, or the server broke off. */
export class McpCallError extends KindedError<'unavailable' | 'timeout' | 'failed'> {
  override name = 'McpCallError'
}

const CONNECT_TIMEOUT_MS = 20_000
const FIRST_RETRY_MS = 1000
const MAX_RETRY_MS = 60_000
const MAX_TOOLS = 200

const errorText = (err: unknown) => (err instanceof Error ? err.message : String(err)).replace(/\s+/g, ' ').slice(0, 300)

/**
 * One MCP server: connected on start, and again with backoff (1 s doubling to a minute) after it
 * fails to start, crashes, or times out a call; its tools are absent while it is not connected. A
 * stdio server gets exactly its configured environment plus PATH and HOME; an HTTP server is tried
 * as streamable HTTP first and as SSE when that is refused.
 */
export class McpServer {
  readonly config: McpServerConfig
  readonly #log: Logger
  readonly #onChange: () => void
  #client: Client | undefined
  #transport: Transport | undefined
  #state: ServerState = 'connecting'
  #tools: McpTool[] = []
  #lastError: string | undefined
  #startupMs: number | undefined
  #retryMs = FIRST_RETRY_MS
  #retryTimer: NodeJS.Timeout | undefined
  #stopped = false
  #connecting: Promise<void> | undefined

  readonly #baseEnv: Record<string, string>
  readonly #sandbox: Pick<Sandbox, 'launch' | 'ownPathOf'>
  #home: string | undefined
  /** Takes the server's own env values and headers (tokens given through ${VAR}) out of a text. */
  readonly #scrub: (text: string) => string

  /** `baseEnv`: what every stdio server gets besides its own env (PATH); `sandbox` starts a stdio server. */
  constructor(config: McpServerConfig, log: Logger, onChange: () => void, sandbox: Pick<Sandbox, 'launch' | 'ownPathOf'>, baseEnv: Record<string, string> = {}) {
    this.config = config
    this.#sandbox = sandbox
    this.#baseEnv = baseEnv
    this.#scrub = createScrubber(serverSecrets(config))
    this.#log = log.child({ mcpServer: config.name })
    this.#onChange = onChange
  }

  get status(): ServerStatus {
    return { name: this.config.name, transport: this.config.transport, state: this.#state, tools: this.#state === 'connected' ? this.#tools : [], lastError: this.#lastError, startupMs: this.#startupMs }
  }

  /** Connects (in the background after a failure); resolves once the first attempt has ended. */
  start(): Promise<void> {
    this.#connecting ??= this.#connect().finally(() => (this.#connecting = undefined))
    return this.#connecting
  }

  async #connect(): Promise<void> {
    if (this.#stopped) return
    this.#setState('connecting')
    const started = performance.now()
    try {
      const { client, transport } = await this.#open()
      if (this.#stopped) {
        await client.close().catch(() => undefined)
        return
      }
      this.#client = client
      this.#transport = transport
      this.#tools = await this.#listTools(client)
      this.#startupMs = Math.round(performance.now() - started)
      this.#retryMs = FIRST_RETRY_MS
      this.#lastError = undefined
      // A crash or a closed connection: not connected any more; try again after the backoff.
      client.onclose = () => {
        if (this.#client !== client || this.#stopped) return
        this.#failed(new Error(`the server closed the connection${this.#stderr()}`))
      }
      this.#setState('connected')
      this.#log.info({ tools: this.#tools.length, ms: this.#startupMs }, 'MCP server connected')
    } catch (err) {
      this.#failed(err)
    }
  }

  async #open(): Promise<{ client: Client; transport: Transport }> {
    const c = this.config
    const connect = async (transport: Transport) => {
      const client = new Client({ name: 'mechanic', version: '1' })
      try {
        await client.connect(transport, { timeout: CONNECT_TIMEOUT_MS })
      } catch (err) {
        await transport.close().catch(() => undefined)
        throw err
      }
      return { client, transport }
    }
    if (c.transport === 'stdio') {
      // Its HOME is a folder of its own (kept across restarts, removed on stop): never the service's.
      this.#home ??= await mkdtemp(join(tmpdir(), `mechanic-mcp-${c.name}-`))
      const env = { ...this.#baseEnv, HOME: this.#home, ...c.env }
      const cwd = c.cwd ?? this.#home
      // The operator's binds may not reach into the service's own data (also not through a symlink).
      for (const [what, paths] of [['mechanic.paths', c.mechanic.paths], ['mechanic.readOnlyPaths', c.mechanic.readOnlyPaths], ['cwd', c.cwd ? [c.cwd] : []]] as const) {
        for (const path of paths) {
          const own = this.#sandbox.ownPathOf(path)
          if (own) throw new Error(`${what} names ${path}, which is inside ${own}: the service's own files are never shown to a server`)
        }
      }
      const launch = this.#sandbox.launch({
        command: c.command,
        args: c.args,
        cwd,
        env,
        writable: [this.#home, ...c.mechanic.paths],
        readOnly: [...c.mechanic.readOnlyPaths, ...(c.cwd && !c.mechanic.paths.includes(c.cwd) ? [c.cwd] : [])],
      })
      return connect(new GroupStdioTransport({ command: launch.file, args: launch.args, env: launch.env, cwd: launch.cwd }))
    }
    const url = new URL(c.url)
    const requestInit = { headers: c.headers }
    if (c.transport === 'sse') return connect(new SSEClientTransport(url, { requestInit }))
    try {
      return await connect(new StreamableHTTPClientTransport(url, { requestInit }))
    } catch (err) {
      // Older servers speak only SSE: a refused streamable-HTTP request is worth one SSE try.
      this.#log.debug({ err: errorText(err) }, 'streamable HTTP refused; trying SSE')
      return connect(new SSEClientTransport(url, { requestInit }))
    }
  }

  async #listTools(client: Client): Promise<McpTool[]> {
    const tools: McpTool[] = []
    let cursor: string | undefined
    do {
      const page = await client.listTools(cursor ? { cursor } : undefined, { timeout: CONNECT_TIMEOUT_MS })
      tools.push(...page.tools.map((t) => ({ name: t.name, description: t.description, inputSchema: t.inputSchema, annotations: t.annotations })))
      cursor = page.nextCursor
    } while (cursor && tools.length < MAX_TOOLS)
    return tools.slice(0, MAX_TOOLS)
  }

  #stderr(): string {
    const tail = this.#transport instanceof GroupStdioTransport ? this.#transport.stderrTail.at(-1) : undefined
    return tail ? ` (stderr: ${this.#scrub(tail.slice(0, 200))})` : ''
  }

  #failed(err: unknown): void {
    const client = this.#client
    this.#client = undefined
    this.#transport = undefined
    void client?.close().catch(() => undefined)
    if (this.#stopped) return
    this.#lastError = this.#scrub(errorText(err))
    this.#setState('failing')
    this.#log.warn({ err: this.#lastError, retryInMs: this.#retryMs }, 'MCP server failed; retrying')
    clearTimeout(this.#retryTimer)
    this.#retryTimer = setTimeout(() => void this.start(), this.#retryMs)
    this.#retryTimer.unref()
    this.#retryMs = Math.min(this.#retryMs * 2, MAX_RETRY_MS)
  }

  #setState(state: ServerState): void {
    if (this.#state === state) return
    this.#state = state
    this.#onChange()
  }

  /**
   * Calls a tool. A call that times out restarts the server (a stdio server's process group is
   * killed): a hung server would hang every later call too.
   */
  async call(tool: string, args: Record<string, unknown>, timeoutMs: number): Promise<CallToolResult> {
    const client = this.#client
    if (!client || this.#state !== 'connected') throw new McpCallError('unavailable', `the MCP server ${this.config.name} is not connected${this.#lastError ? ` (${this.#lastError})` : ''}`)
    try {
      return (await client.callTool({ name: tool, arguments: args }, undefined, { timeout: timeoutMs })) as CallToolResult
    } catch (err) {
      const text = errorText(err)
      if (/timed? ?out/i.test(text)) {
        this.#failed(new Error(`a call of ${tool} timed out after ${timeoutMs} ms`))
        throw new McpCallError('timeout', `${tool} did not answer within ${Math.round(timeoutMs / 1000)} s; the server is being restarted`)
      }
      if (this.#client !== client) throw new McpCallError('failed', `the MCP server ${this.config.name} stopped during the call${this.#stderr()}`)
      // A JSON-RPC error is the tool's answer; anything else (a refused connection, an HTTP server
      // that lost our session after a restart) means the connection is gone: reconnect with backoff.
      if (!(err instanceof McpError)) {
        this.#failed(err)
        throw new McpCallError('failed', `the MCP server ${this.config.name} could not be reached (${this.#scrub(text)}); reconnecting`)
      }
      throw new McpCallError('failed', this.#scrub(text))
    }
  }

  /** Disconnects for good (a stdio server's process group is killed). */
  async stop(): Promise<void> {
    this.#stopped = true
    clearTimeout(this.#retryTimer)
    await this.#connecting?.catch(() => undefined)
    const client = this.#client
    this.#client = undefined
    this.#state = 'stopped'
    await client?.close().catch(() => undefined)
    if (this.#home) await rm(this.#home, { recursive: true, force: true }).catch(() => undefined)
  }
}

/** The configured MCP servers of this process: started together, reloaded by diff, stopped together. */
export class McpServers {
  readonly #log: Logger
  readonly #baseEnv: Record<string, string>
  readonly #sandbox: Pick<Sandbox, 'launch' | 'ownPathOf'>
  readonly #servers = new Map<string, McpServer>()
  readonly #listeners: Array<() => void> = []

  /** `sandbox`: the launcher every stdio server starts through; `baseEnv`: PATH, the only variable of ours a stdio server gets. */
  constructor(log: Logger, sandbox: Pick<Sandbox, 'launch' | 'ownPathOf'>, baseEnv: { PATH?: string | undefined } = {}) {
    this.#log = log
    this.#sandbox = sandbox
    this.#baseEnv = Object.fromEntries(Object.entries(baseEnv).filter((e): e is [string, string] => typeof e[1] === 'string'))
  }

  /** Told whenever a server connects, fails or goes: the tool catalogue changed. */
  onChange(listener: () => void): void {
    this.#listeners.push(listener)
  }

  #changed = () => {
    for (const l of this.#listeners) l()
  }

  /**
   * Applies a configuration: servers that are new or changed are (re)started, removed ones stopped,
   * unchanged ones left connected. Resolves when every started server's first attempt has ended
   * (connected or failing); a failing one keeps retrying in the background.
   */
  async apply(configs: readonly McpServerConfig[]): Promise<{ started: string[]; stopped: string[] }> {
    const wanted = new Map(configs.map((c) => [c.name, c]))
    const stopped: string[] = []
    for (const [name, server] of this.#servers) {
      const next = wanted.get(name)
      if (next && JSON.stringify(next) === JSON.stringify(server.config)) continue
      this.#servers.delete(name)
      stopped.push(name)
      await server.stop()
    }
    const started = configs.filter((c) => !this.#servers.has(c.name)).map((c) => {
      const server = new McpServer(c, this.#log, this.#changed, this.#sandbox, this.#baseEnv)
      this.#servers.set(c.name, server)
      return server
    })
    await Promise.all(started.map((s) => s.start()))
    this.#changed()
    return { started: started.map((s) => s.config.name), stopped }
  }

  get(name: string): McpServer | undefined {
    return this.#servers.get(name)
  }

  list(): McpServer[] {
    return [...this.#servers.values()]
  }

  async stop(): Promise<void> {
    await Promise.all(this.list().map((s) => s.stop()))
    this.#servers.clear()
  }
}
