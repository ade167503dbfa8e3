import { z } from 'zod'
import { AGENT_NAME_BODY } from '../domain/names.ts'
import { defineTool } from './tools/tool.ts'
import type { AgentTool } from './tools/tool.ts'

/** One agent of the graph: its instructions, its tools, and the model it runs on. */
export interface AgentSpec {
  name: string
  /** One line for the other agents (handoff) and for /agents. */
  description?: string | undefined
  systemPrompt: string
  tools?: AgentTool[] | undefined
  /** The model's name; undefined: the graph's default model. */
  model?: string | undefined
}

/** The agents a conversation may talk to; the database-backed one also holds those people define. */
export interface AgentRoster {
  /** The agent that answers when a turn names none, or names one that does not exist. */
  readonly fallback: string
  /** Every tool any agent may have now (MCP tools come and go): the graph reads approval rules from here. */
  readonly tools: readonly AgentTool[]
  get(name: string): Promise<AgentSpec | undefined>
  list(): Promise<AgentSpec[]>
}

/** A fixed roster (tests, and a service without user-defined agents); the first agent is the fallback. */
export function staticRoster(agents: [AgentSpec, ...AgentSpec[]]): AgentRoster {
  const byName = new Map(agents.map((a) => [a.name, a]))
  return {
    fallback: agents[0].name,
    tools: [...new Map(agents.flatMap((a) => a.tools ?? []).map((t) => [t.name, t])).values()],
    get: (name) => Promise.resolve(byName.get(name)),
    list: () => Promise.resolve(agents),
  }
}

/** Looks tools up by name in a roster's current list, rebuilding the index only when the list changes. */
export function toolIndex(roster: Pick<AgentRoster, 'tools'>): (name: string) => AgentTool | undefined {
  let indexed: { list: readonly AgentTool[]; byName: Map<string, AgentTool> } | undefined
  return (name) => {
    const list = roster.tools
    if (indexed?.list !== list) indexed = { list, byName: new Map(list.map((t) => [t.name, t])) }
    return indexed.byName.get(name)
  }
}

export const HANDOFF_TOOL = 'hand_off'

/**
 * Passes the conversation to another agent within the same turn. The graph carries it out (it
 * changes who answers); the tool itself only checks the name.
 */
export function handoffTool(others: readonly AgentSpec[]): AgentTool {
  const names = others.map((a) => a.name)
  return defineTool({
    name: HANDOFF_TOOL,
    description: `Hand the conversation to another agent that fits the request better: ${others.map((a) => `${a.name} (${a.description ?? 'no description'})`).join('; ')}. Say nothing else when you call it.`,
    schema: z.object({
      agent: z.string().refine((n) => names.includes(n), { error: `agent must be one of: ${names.join(', ')}` }),
      reason: z.string().max(500).optional(),
    }),
    run: ({ agent }) => Promise.resolve(`The conversation is now with ${agent}.`),
  })
}

/** The agent of that name, else the fallback (an agent deleted while a chat still named it). */
export async function resolveAgent(roster: AgentRoster, name: string | undefined): Promise<AgentSpec> {
  const found = (name && (await roster.get(name))) || (await roster.get(roster.fallback))
  if (!found) throw new Error(`the default agent ${roster.fallback} does not exist`)
  return found
}

/** An agent's name as a person types it: "@Poet " is poet. */
export const agentName = (text: string) => text.trim().replace(/^@/, '').toLowerCase()

const ADDRESSED = new RegExp(`^\\s*@(${AGENT_NAME_BODY})\\b`, 'i')

/** `@name` at the start of a message addresses that agent: the name, lowercase, if there is one. */
export function addressedAgent(text: string): string | undefined {
  return ADDRESSED.exec(text)?.[1]?.toLowerCase()
}
