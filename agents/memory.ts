import OpenAI from 'openai'
import { z } from 'zod'
import type { Pool } from '../db/database.ts'
import { audit } from '../db/audit-log.ts'
import { deleteAllMemories, deleteMemory, hasMemories, insertMemory, listMemories, nearest, search, updateMemory } from '../db/memories.ts'
import type { MemoryOwner, MemoryRow, RecalledMemory } from '../db/memories.ts'
export type { MemoryRow } from '../db/memories.ts'
import { reportedCost } from '../domain/model-calls.ts'
import type { ModelCallReport } from '../domain/model-calls.ts'
import type { Logger } from '../logger.ts'
import { toModelError } from './model.ts'
import { defineTool } from './tools/tool.ts'
import type { AgentTool, ToolContext } from './tools/tool.ts'

export interface EmbeddingSettings {
  apiKey: string
  baseUrl: string
  model: string
  dim: number
  timeoutMs: number
  maxRetries: number
}

/** Turns texts into vectors, and says what that used (tokens, and the cost where the provider reports it). */
export interface Embedder {
  readonly model: string
  embed(texts: string[]): Promise<{ vectors: number[][]; inputTokens: number; cost: number | undefined }>
}

const BATCH = 64

/**
 * Embeddings from the OpenAI-compatible `/embeddings` endpoint, batched, through the official client
 * (its retries: 429, 5xx, timeouts, backoff), so the usage block (tokens, OpenRouter's cost) is read.
 * Every vector is checked against `dim`: a model that answers in another dimension is a configuration
 * error, said plainly.
 */
export function createEmbedder(s: EmbeddingSettings): Embedder {
  const client = new OpenAI({ apiKey: s.apiKey, baseURL: s.baseUrl, maxRetries: s.maxRetries, timeout: s.timeoutMs })
  return {
    model: s.model,
    async embed(texts) {
      const vectors: number[][] = []
      let inputTokens = 0
      let cost: number | undefined
      try {
        for (let at = 0; at < texts.length; at += BATCH) {
          const res = await client.embeddings.create({ model: s.model, input: texts.slice(at, at + BATCH) })
          vectors.push(...[...res.data].sort((a, b) => a.index - b.index).map((d) => d.embedding))
          inputTokens += res.usage?.prompt_tokens ?? 0
          const reported = reportedCost(res.usage)
          if (reported !== undefined) cost = (cost ?? 0) + reported
        }
      } catch (err) {
        throw toModelError(err)
      }
      for (const v of vectors) {
        if (!Array.isArray(v) || v.length !== s.dim || v.some((x) => !Number.isFinite(x))) {
          throw new Error(`the embedding model returned ${Array.isArray(v) ? v.length : 'no'} dimensions, but EMBEDDING_DIM is ${s.dim}`)
        }
      }
      if (vectors.length !== texts.length) throw new Error(`the embedding model returned ${vectors.length} vectors for ${texts.length} texts`)
      return { vectors, inputTokens, cost }
    },
  }
}

export interface MemorySettings {
  /** Memories recalled before a turn. */
  recallLimit: number
  /** Below this cosine similarity a memory is not relevant enough to mention. */
  minSimilarity: number
  /** At or above this similarity a new memory replaces the old one instead of adding another. */
  dedupeSimilarity: number
}

/** The owners whose memories a turn may see: the person, the chat when it is a group, the agent. */
export function visibleOwners(ctx: Pick<ToolContext, 'userId' | 'chatId' | 'agent'>): MemoryOwner[] {
  return [
    personalMemory(ctx.userId),
    ...(ctx.chatId !== ctx.userId && ctx.chatId !== 0 ? [{ scope: 'chat' as const, ownerId: String(ctx.chatId) }] : []),
    { scope: 'agent', ownerId: ctx.agent },
  ]
}

/** Long-term memory: store with de-duplication, recall by meaning, forget. */
export class Memory {
  readonly #pool: Pool
  readonly #embedder: Embedder
  readonly #s: MemorySettings
  readonly #log: Logger
  readonly #record: ((call: ModelCallReport) => void) | undefined

  constructor(deps: { pool: Pool; embedder: Embedder; settings: MemorySettings; log: Logger; record?: ((call: ModelCallReport) => void) | undefined }) {
    this.#pool = deps.pool
    this.#embedder = deps.embedder
    this.#s = deps.settings
    this.#log = deps.log
    this.#record = deps.record
  }

  /** Embeds one text, recording the call like a model call (agent "memory"), paid by the owner when a person owns it. */
  async #embed(text: string, owner: MemoryOwner | undefined): Promise<number[]> {
    const started = performance.now()
    const { vectors, inputTokens, cost } = await this.#embedder.embed([text])
    const userId = owner?.scope === 'user' ? Number(owner.ownerId) : 0
    this.#record?.({ agent: 'memory', model: this.#embedder.model, chatId: 0, userId, inputTokens, outputTokens: 0, ms: performance.now() - started, cost })
    return vectors[0]!
  }

  /** Stores a fact; a near-duplicate of one the owner has updates that one. */
  async remember(owner: MemoryOwner, content: string, metadata: Record<string, unknown>): Promise<{ memory: MemoryRow; updated: boolean }> {
    const embedding = await this.#embed(content, owner)
    const close = await nearest(this.#pool, owner, embedding)
    if (close && close.similarity >= this.#s.dedupeSimilarity) {
      const memory = await updateMemory(this.#pool, close.id, content, embedding, metadata)
      if (memory) return { memory, updated: true }
    }
    return { memory: await insertMemory(this.#pool, owner, content, embedding, metadata), updated: false }
  }

  /** The owners' memories relevant to `query`, best first, above the similarity threshold. */
  async recall(owners: readonly MemoryOwner[], query: string, limit = this.#s.recallLimit): Promise<RecalledMemory[]> {
    const embedding = await this.#embed(query, owners.find((o) => o.scope === 'user'))
    const found = await search(this.#pool, owners, embedding, { limit })
    return found.filter((m) => m.similarity >= this.#s.minSimilarity)
  }

  /**
   * What the agent is reminded of before a turn, or undefined. Never throws: a failing embedding
   * endpoint costs the turn its recall, not its answer.
   */
  async recallForTurn(ctx: Pick<ToolContext, 'userId' | 'chatId' | 'agent'>, text: string): Promise<string | undefined> {
    try {
      const owners = visibleOwners(ctx)
      // Most turns are of people with nothing stored: an index lookup spares them the embedding request.
      if (!(await hasMemories(this.#pool, owners))) return undefined
      const found = await this.recall(owners, text)
      if (found.length === 0) return undefined
      return [
        'Memories (facts stored earlier; use them where relevant, do not recite them):',
        ...found.map((m) => `- [memory ${m.id}${m.scope === 'user' ? '' : `, ${m.scope}`}] ${m.content}`),
      ].join('\n')
    } catch (err) {
      this.#log.warn({ err, userId: ctx.userId }, 'recall failed; answering without memories')
      return undefined
    }
  }

  forget(owner: MemoryOwner, id: number): Promise<boolean> {
    return deleteMemory(this.#pool, owner, id)
  }

  /** One page of the owner's memories, newest first, and how many there are in all. */
  list(owner: MemoryOwner, page: number, pageSize: number): Promise<{ rows: MemoryRow[]; total: number }> {
    return listMemories(this.#pool, owner, page, pageSize)
  }

  /** Forgets everything of the owner (audited, by `actor`); returns how many memories went. */
  async forgetAll(owner: MemoryOwner, actor: { userId: number; chatId: number | undefined }): Promise<number> {
    const count = await deleteAllMemories(this.#pool, owner)
    await audit(this.#pool, { action: 'memories_forgotten', actorId: actor.userId, chatId: actor.chatId, detail: { count } })
    return count
  }
}

/** A person's own memories: what /memory lists and the memory tools touch. */
export const personalMemory = (userId: number): MemoryOwner => ({ scope: 'user', ownerId: String(userId) })

/** The memory tools every agent gets: remember, recall, forget (the person's own memories only). */
export function memoryTools(memory: Memory): AgentTool[] {
  const ownerFor = (ctx: ToolContext, scope: 'user' | 'chat' = 'user'): MemoryOwner =>
    scope === 'chat' && ctx.chatId !== ctx.userId ? { scope: 'chat', ownerId: String(ctx.chatId) } : { scope: 'user', ownerId: String(ctx.userId) }
  return [
    defineTool({
      name: 'remember',
      description:
        'Store a lasting fact about the person (preferences, names, projects) to recall in later conversations. ' +
        'One short, self-contained sentence. scope "chat" shares it with everyone in a group chat.',
      schema: z.object({ content: z.string().trim().min(3).max(500), scope: z.enum(['user', 'chat']).optional() }),
      run: async ({ content, scope }, ctx) => {
        const { memory: m, updated } = await memory.remember(ownerFor(ctx, scope), content, { agent: ctx.agent, chatId: ctx.chatId, toolCallId: ctx.toolCallId })
        return updated ? `Updated memory ${m.id}: ${m.content}` : `Stored memory ${m.id}.`
      },
    }),
    defineTool({
      name: 'recall',
      description: 'Search the memories about this person (and this chat) by meaning.',
      schema: z.object({ query: z.string().trim().min(2).max(500) }),
      run: async ({ query }, ctx) => {
        const found = await memory.recall(visibleOwners(ctx), query, 10)
        return found.length ? found.map((m) => `[memory ${m.id}] ${m.content}`).join('\n') : 'No memory matches.'
      },
    }),
    defineTool({
      name: 'forget',
      description: 'Delete one memory of this person by its id (when they ask to forget something).',
      schema: z.object({ id: z.number().int().positive() }),
      run: async ({ id }, ctx) => ((await memory.forget(personalMemory(ctx.userId), id)) ? `Forgot memory ${id}.` : `There is no memory ${id} of this person.`),
    }),
  ]
}
