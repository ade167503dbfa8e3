import type { AgentDirectory, AgentListing } from '../agents/directory.ts'
import * as db from '../db/agents.ts'
import type { NewAgent } from '../db/agents.ts'
import { audit } from '../db/audit-log.ts'
import { clearActiveAgent } from '../db/chat-threads.ts'
import type { Pool } from '../db/database.ts'
import { setSetting } from '../db/settings.ts'
import type { Person } from './output.ts'

/** An agent as a person defines it (the wizards). */
export type AgentDraft = Omit<NewAgent, 'ownerId'>
export type { AgentListing } from '../agents/directory.ts'

/** Who may change an agent: its owner, or an admin; built-in agents nobody. */
export const mayChange = (agent: Pick<AgentListing, 'builtIn' | 'ownerId'> | undefined, userId: number, isAdmin: boolean) =>
  agent !== undefined && !agent.builtIn && (isAdmin || agent.ownerId === userId)

/** The agents people talk to and define, and the default model; every change audited. */
export class Agents {
  readonly #pool: Pool
  readonly #directory: AgentDirectory

  constructor(deps: { pool: Pool; directory: AgentDirectory }) {
    this.#pool = deps.pool
    this.#directory = deps.directory
  }

  get fallback(): string {
    return this.#directory.fallback
  }

  list = () => this.#directory.list()
  get = (name: string) => this.#directory.get(name)
  /** Names of the tools a person may give an agent. */
  toolNames = () => this.#directory.toolNames()
  defaultModel = () => this.#directory.defaultModel()

  /** Sets the model agents use unless they name their own; returns the one before. */
  async setDefaultModel(model: string, by: Person, chatId: number): Promise<string> {
    const before = await this.#directory.defaultModel()
    await setSetting(this.#pool, 'defaultModel', model, by.id)
    this.#directory.changed()
    await audit(this.#pool, { action: 'default_model_changed', actorId: by.id, chatId, detail: { from: before, to: model } })
    return before
  }

  /** Creates an agent owned by `by`; false when the name was taken meanwhile. */
  async create(draft: AgentDraft, by: Person, chatId: number | undefined): Promise<boolean> {
    const done = await db.createAgent(this.#pool, { ...draft, ownerId: by.id })
    this.#directory.changed()
    if (done) await audit(this.#pool, { action: 'agent_created', actorId: by.id, chatId, detail: { name: draft.name, model: draft.model, tools: draft.tools } })
    return done
  }

  /** Saves an agent's new definition; false when it was deleted meanwhile. */
  async update(draft: AgentDraft, by: Person, chatId: number | undefined): Promise<boolean> {
    const done = await db.updateAgent(this.#pool, draft)
    this.#directory.changed()
    if (done) await audit(this.#pool, { action: 'agent_updated', actorId: by.id, chatId, detail: { name: draft.name, model: draft.model, tools: draft.tools } })
    return done
  }

  /** Deletes an agent; the chats that talked to it go back to the default agent. False when already gone. */
  async remove(name: string, by: Person, chatId: number | undefined): Promise<boolean> {
    const done = await db.deleteAgent(this.#pool, name)
    this.#directory.changed()
    if (done) {
      await clearActiveAgent(this.#pool, name)
      await audit(this.#pool, { action: 'agent_deleted', actorId: by.id, chatId, detail: { name } })
    }
    return done
  }
}
