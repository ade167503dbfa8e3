import type { Pool } from './database.ts'

/** An agent a person defined (/newagent). */
export interface AgentRow {
  name: string
  description: string
  systemPrompt: string
  /** undefined: the service's default model. */
  model: string | undefined
  tools: string[]
  ownerId: number
  createdAt: Date
}

const COLUMNS = `name, description, system_prompt as "systemPrompt", model, tools, owner_id as "ownerId", created_at as "createdAt"`

type Raw = Omit<AgentRow, 'model' | 'ownerId'> & { model: string | null; ownerId: string }
const toRow = (r: Raw): AgentRow => ({ ...r, model: r.model ?? undefined, ownerId: Number(r.ownerId) })

export type NewAgent = Omit<AgentRow, 'createdAt'>

/** Creates an agent; false when the name is taken. */
export async function createAgent(pool: Pool, a: NewAgent): Promise<boolean> {
  const { rowCount } = await pool.query(
    `insert into agents (name, description, system_prompt, model, tools, owner_id) values ($1, $2, $3, $4, $5, $6)
     on conflict (name) do nothing`,
    [a.name, a.description, a.systemPrompt, a.model ?? null, a.tools, a.ownerId],
  )
  return rowCount === 1
}

/** Replaces an agent's definition (not its name or owner); false when it no longer exists. */
export async function updateAgent(pool: Pool, a: Omit<NewAgent, 'ownerId'>): Promise<boolean> {
  const { rowCount } = await pool.query(
    `update agents set description = $2, system_prompt = $3, model = $4, tools = $5, updated_at = now() where name = $1`,
    [a.name, a.description, a.systemPrompt, a.model ?? null, a.tools],
  )
  return rowCount === 1
}

export async function deleteAgent(pool: Pool, name: string): Promise<boolean> {
  const { rowCount } = await pool.query('delete from agents where name = $1', [name])
  return rowCount === 1
}

export async function listAgents(pool: Pool): Promise<AgentRow[]> {
  const { rows } = await pool.query<Raw>(`select ${COLUMNS} from agents order by name limit 100`)
  return rows.map(toRow)
}
