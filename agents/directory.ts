import { listAgents } from '../db/agents.ts'
import type { AgentRow } from '../db/agents.ts'
import { cachedFor } from '../cached.ts'
import type { Pool } from '../db/database.ts'
import { getSetting } from '../db/settings.ts'
import { toolIndex } from './roster.ts'
import type { AgentRoster, AgentSpec } from './roster.ts'
import type { AgentTool } from './tools/tool.ts'

/** A built-in agent: always there, not editable from Telegram. */
export interface BuiltInAgent {
  name: string
  description: string
  systemPrompt: string
  tools: AgentTool[]
}

/** What /agents and the wizards show of an agent. */
export interface AgentListing extends AgentSpec {
  description: string
  builtIn: boolean
  ownerId: number | undefined
  toolNames: string[]
  /** The model the agent names itself; undefined: it follows the default. */
  ownModel: string | undefined
  /** The instructions as its author wrote them (systemPrompt adds who the agent is). */
  instructions: string
}

/** Tools that come and go while the service runs (MCP servers connecting and failing). */
export interface DynamicTools {
  /** Every such tool available now: people may give any of them to an agent they define. */
  all(): AgentTool[]
  /** Those configured for an agent by name (an MCP server's `mechanic.agents`). */
  forAgent(agent: string): AgentTool[]
}

const noDynamicTools: DynamicTools = { all: () => [], forAgent: () => [] }

/** How long a read of the agents and the default model serves before the next one. */
const SNAPSHOT_TTL_MS = 1000

interface Snapshot {
  defaultModel: string
  rows: Map<string, AgentRow>
}

/**
 * The agents of this service: the built-in ones and those people defined (the `agents` table), each
 * on its own model or the default one (/model, else LLM_MODEL). The table and the setting are read
 * at most once a second (a turn asks several times), and at once after a change made here; another
 * instance sees a change within that second.
 */
export class AgentDirectory implements AgentRoster {
  readonly fallback: string
  readonly #staticTools: readonly AgentTool[]
  readonly #builtIns: Map<string, BuiltInAgent>
  readonly #catalog: Map<string, AgentTool>
  readonly #dynamic: DynamicTools
  /** An MCP tool by name; the index is rebuilt only when the MCP tools change. */
  readonly #dynamicNamed: (name: string) => AgentTool | undefined
  readonly #envModel: string
  readonly #snapshot: { get(): Promise<Snapshot>; drop(): void }

  /** `catalog`: the tools a person may give an agent they define; `dynamic`: those of MCP servers. */
  constructor(deps: { pool: Pool; builtIns: [BuiltInAgent, ...BuiltInAgent[]]; catalog: AgentTool[]; defaultModel: string; dynamic?: DynamicTools | undefined }) {
    this.#builtIns = new Map(deps.builtIns.map((a) => [a.name, a]))
    this.#catalog = new Map(deps.catalog.map((t) => [t.name, t]))
    const dynamic = (this.#dynamic = deps.dynamic ?? noDynamicTools)
    this.#dynamicNamed = toolIndex({
      get tools() {
        return dynamic.all()
      },
    })
    this.#envModel = deps.defaultModel
    this.#snapshot = cachedFor(SNAPSHOT_TTL_MS, async () => {
      const [model, rows] = await Promise.all([getSetting(deps.pool, 'defaultModel'), listAgents(deps.pool)])
      return { defaultModel: model ?? this.#envModel, rows: new Map(rows.map((r) => [r.name, r])) }
    })
    this.fallback = deps.builtIns[0].name
    this.#staticTools = [...new Map([...deps.builtIns.flatMap((a) => a.tools), ...deps.catalog].map((t) => [t.name, t])).values()]
  }

  /** Every tool any agent may have now: the built-in ones and the MCP servers' connected now. */
  get tools(): readonly AgentTool[] {
    const dynamic = this.#dynamic.all()
    if (this.#merged?.dynamic !== dynamic) this.#merged = { dynamic, tools: dynamic.length ? [...this.#staticTools, ...dynamic] : this.#staticTools }
    return this.#merged.tools
  }

  // The same list while the MCP tools stay the same, so readers can cache by identity.
  #merged: { dynamic: AgentTool[]; tools: readonly AgentTool[] } | undefined

  /** The model agents use unless they name their own. */
  async defaultModel(): Promise<string> {
    return (await this.#snapshot.get()).defaultModel
  }

  /** After a change to the agents or the default model: the next use reads them again. */
  changed(): void {
    this.#snapshot.drop()
  }


  /** Names of the tools a person may give an agent: the built-in catalogue, then the MCP servers' tools. */
  toolNames(): string[] {
    return [...this.#catalog.keys(), ...this.#dynamic.all().map((t) => t.name)]
  }

  isBuiltIn(name: string): boolean {
    return this.#builtIns.has(name)
  }

  async get(name: string): Promise<AgentListing | undefined> {
    const { defaultModel, rows } = await this.#snapshot.get()
    const builtIn = this.#builtIns.get(name)
    if (builtIn) return this.#fromBuiltIn(builtIn, defaultModel)
    const row = rows.get(name)
    return row && this.#fromRow(row, defaultModel)
  }

  async list(): Promise<AgentListing[]> {
    const { defaultModel, rows } = await this.#snapshot.get()
    return [...[...this.#builtIns.values()].map((b) => this.#fromBuiltIn(b, defaultModel)), ...[...rows.values()].map((r) => this.#fromRow(r, defaultModel))]
  }

  #fromBuiltIn(a: BuiltInAgent, model: string): AgentListing {
    const tools = [...a.tools, ...this.#dynamic.forAgent(a.name)]
    return { ...a, tools, model, builtIn: true, ownerId: undefined, toolNames: tools.map((t) => t.name), ownModel: undefined, instructions: a.systemPrompt }
  }

  #fromRow(row: AgentRow, defaultModel: string): AgentListing {
    // A tool that does not exist now (the coder switched off, an MCP server down) is left out, not an error.
    const chosen = row.tools.flatMap((n) => this.#catalog.get(n) ?? this.#dynamicNamed(n) ?? [])
    const tools = [...new Map([...chosen, ...this.#dynamic.forAgent(row.name)].map((t) => [t.name, t])).values()]
    const systemPrompt = `You are ${row.name}, an agent of Mechanic, a Telegram bot. ${row.systemPrompt}`
    return {
      name: row.name,
      description: row.description,
      systemPrompt,
      instructions: row.systemPrompt,
      model: row.model ?? defaultModel,
      ownModel: row.model,
      tools,
      toolNames: tools.map((t) => t.name),
      builtIn: false,
      ownerId: row.ownerId,
    }
  }
}
