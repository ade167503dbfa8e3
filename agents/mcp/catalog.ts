import { createScrubber } from '../../logger.ts'
import type { AgentTool } from '../tools/tool.ts'
import { serverSecrets } from './config.ts'
import type { McpServers } from './servers.ts'
import { mcpAgentTool } from './tools.ts'
import type { McpCallRecord } from './tools.ts'

/** What the catalogue's tools need: where calls are recorded, and the service's secrets (each server's own are added). */
interface CatalogDeps {
  record: (call: McpCallRecord) => void
  secrets: readonly string[]
}

interface Built {
  all: AgentTool[]
  byServer: Map<string, { agents: readonly string[]; tools: AgentTool[]; skipped: string[] }>
}

/**
 * The tools of the connected MCP servers, as agent tools: rebuilt when a server connects, fails or
 * is reloaded, and read by the agent directory on every turn (a server that is down has no tools).
 */
export class McpCatalog {
  readonly #servers: McpServers
  readonly #deps: CatalogDeps
  #built: Built | undefined

  constructor(servers: McpServers, deps: CatalogDeps) {
    this.#servers = servers
    this.#deps = deps
    servers.onChange(() => (this.#built = undefined))
  }

  #build(): Built {
    const byServer: Built['byServer'] = new Map()
    const taken = new Set<string>()
    for (const server of this.#servers.list()) {
      const { tools, state } = server.status
      if (state !== 'connected') continue
      // The server's own env values and headers are secrets too (API keys given through ${VAR}).
      const c = server.config
      const deps = { record: this.#deps.record, scrub: createScrubber([...this.#deps.secrets, ...serverSecrets(c)]) }
      const built = tools.map((t) => mcpAgentTool(server, t, c.mechanic, deps))
      // Two tools whose names become the same (cut at 64, or "a.b" and "a_b") would make every turn fail.
      const named = built.map((t) => ('skipped' in t || !taken.has(t.name) ? t : { skipped: `${t.name}: its name collides with another tool's` }))
      for (const t of named) if (!('skipped' in t)) taken.add(t.name)
      byServer.set(server.config.name, {
        agents: server.config.mechanic.agents,
        tools: named.filter((t): t is AgentTool => !('skipped' in t)),
        skipped: named.flatMap((t) => ('skipped' in t ? [t.skipped] : [])),
      })
    }
    return { all: [...byServer.values()].flatMap((s) => s.tools), byServer }
  }

  get #current(): Built {
    return (this.#built ??= this.#build())
  }

  /** Every MCP tool available now (the catalogue the wizards offer). */
  all(): AgentTool[] {
    return this.#current.all
  }

  /** The tools of the servers configured for `agent` (their `mechanic.agents`). */
  forAgent(agent: string): AgentTool[] {
    return [...this.#current.byServer.values()].filter((s) => s.agents.includes(agent)).flatMap((s) => s.tools)
  }

  /** A server's tools, as the agents know them. */
  ofServer(server: string): AgentTool[] {
    return this.#current.byServer.get(server)?.tools ?? []
  }

  /** Tools a server lists that cannot be offered, with the reason. */
  skipped(server: string): string[] {
    return this.#current.byServer.get(server)?.skipped ?? []
  }
}
