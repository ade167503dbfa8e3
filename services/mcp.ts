import { loadMcpConfig } from '../agents/mcp/config.ts'
import type { Environment } from '../agents/mcp/config.ts'
import type { McpCatalog } from '../agents/mcp/catalog.ts'
import type { McpServers, ServerState } from '../agents/mcp/servers.ts'
import type { McpCallRecord } from '../agents/mcp/tools.ts'
import { audit } from '../db/audit-log.ts'
import type { Pool } from '../db/database.ts'
import type { Logger } from '../logger.ts'

export { McpConfigError } from '../agents/mcp/config.ts'

/** A server as `/mcp` and `/health` show it. */
export interface McpServerView {
  name: string
  transport: string
  state: ServerState
  lastError: string | undefined
  startupMs: number | undefined
  /** The names the agents know its tools by, and whether each asks a person first. */
  tools: Array<{ name: string; asks: boolean }>
  /** Tools it lists that cannot be offered, with the reason. */
  skipped: string[]
}

/** The MCP servers, for admins: their state and tools, and a reload of the configuration file. */
export class Mcp {
  readonly #servers: McpServers
  readonly #catalog: McpCatalog
  readonly #configPath: string | undefined
  readonly #environment: Environment

  constructor(deps: { servers: McpServers; catalog: McpCatalog; configPath: string | undefined; environment: Environment }) {
    this.#servers = deps.servers
    this.#catalog = deps.catalog
    this.#configPath = deps.configPath
    this.#environment = deps.environment
  }

  /** Whether MCP_CONFIG names a file at all. */
  get configured(): boolean {
    return this.#configPath !== undefined
  }

  list(): McpServerView[] {
    return this.#servers.list().map((server) => {
      const s = server.status
      return {
        name: s.name,
        transport: s.transport,
        state: s.state,
        lastError: s.lastError,
        startupMs: s.startupMs,
        tools: this.#catalog.ofServer(s.name).map((t) => ({ name: t.name, asks: t.approval !== undefined })),
        skipped: this.#catalog.skipped(s.name),
      }
    })
  }

  /**
   * Reads MCP_CONFIG again and applies it: new and changed servers are started, removed ones
   * stopped, unchanged ones keep their connection. Throws McpConfigError for a bad file (nothing changes).
   */
  async reload(): Promise<{ started: string[]; stopped: string[] }> {
    const configs = this.#configPath ? loadMcpConfig(this.#configPath, this.#environment) : []
    return this.#servers.apply(configs)
  }
}

/** Records each MCP call: in the metrics and, with its redacted arguments, in the audit log (never failing the call). */
export function mcpCallRecorder(deps: { pool: Pool; log: Logger; observe: (call: McpCallRecord) => void }): (call: McpCallRecord) => void {
  return (call) => {
    deps.observe(call)
    const { context, server, tool, args, outcome } = call
    audit(deps.pool, {
      action: 'mcp_tool_call',
      actorId: context.userId,
      chatId: context.chatId,
      detail: { server, tool, agent: context.agent, threadId: context.threadId, args, outcome, ms: Math.round(call.ms) },
    }).catch((err: unknown) => deps.log.warn({ err, server, tool }, 'could not audit an MCP call'))
  }
}
