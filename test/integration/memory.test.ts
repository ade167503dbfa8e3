import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { Memory, createEmbedder, memoryTools } from '../../agents/memory.ts'
import type { Embedder } from '../../agents/memory.ts'
import { ensureMemoryIndex, listMemories } from '../../db/memories.ts'
import { TEST_DATABASE_URL, openPreparedDatabase, quietLog } from '../support/database.ts'
import { OpenAIEmulator, hashedEmbedding } from '../support/openai-emulator.ts'

const DIM = 256
/** The emulator's embedding, in process: deterministic and meaningful (shared words → close). */
const hashed: Embedder = { model: 'hashed', embed: async (texts) => ({ vectors: texts.map((t) => hashedEmbedding(t, DIM)), inputTokens: texts.length, cost: undefined }) }
const settings = { recallLimit: 5, minSimilarity: 0.2, dedupeSimilarity: 0.9 }
const alice = { scope: 'user' as const, ownerId: '1' }
const bob = { scope: 'user' as const, ownerId: '2' }

const engines = [{ name: 'embedded PGlite', embedded: true }, ...(TEST_DATABASE_URL ? [{ name: 'native Postgres', embedded: false }] : [])]
if (!TEST_DATABASE_URL) console.warn('memory tests: native Postgres skipped (set TEST_DATABASE_URL; .ci/run does)')

describe.each(engines)('memory on $name', ({ embedded }) => {
  let db: Awaited<ReturnType<typeof openPreparedDatabase>>
  let memory: Memory
  beforeAll(async () => {
    db = await openPreparedDatabase({ embedded, embeddingDim: DIM })
    await ensureMemoryIndex(db.pool, DIM) // idempotent
    memory = new Memory({ pool: db.pool, embedder: hashed, settings, log: quietLog })
  })
  afterAll(() => db.close())

  test('store and recall ranked by meaning, above the threshold only', async () => {
    await memory.remember(alice, 'my cat is called Tom', {})
    await memory.remember(alice, 'I work on the billing service in Go', {})
    await memory.remember(alice, 'my favourite colour is green', {})
    const found = await memory.recall([alice], 'what is my cat called')
    expect(found.map((m) => m.content)).toEqual(['my cat is called Tom', 'my favourite colour is green']) // shares only "my is"
    expect(found[0]!.similarity).toBeGreaterThan(found[1]!.similarity + 0.3)
    expect(await memory.recall([alice], 'zebra quantum')).toEqual([])
    const strict = new Memory({ pool: db.pool, embedder: hashed, settings: { ...settings, minSimilarity: 0.5 }, log: quietLog })
    expect((await strict.recall([alice], 'what is my cat called')).map((m) => m.content)).toEqual(['my cat is called Tom'])
  })

  test('a near-duplicate updates the memory instead of adding another', async () => {
    const before = (await listMemories(db.pool, alice, 0, 100)).total
    const first = await memory.remember(alice, 'my dog is called Rex', {})
    const again = await memory.remember(alice, 'my dog is called Rex!', { again: true })
    expect(again.updated).toBe(true)
    expect(again.memory.id).toBe(first.memory.id)
    expect(again.memory.content).toBe('my dog is called Rex!')
    expect((await listMemories(db.pool, alice, 0, 100)).total).toBe(before + 1)
  })

  test("one person's memories are never recalled for another; forget only one's own", async () => {
    const secret = await memory.remember(bob, 'my cat is called Whiskers', {})
    expect((await memory.recall([alice], 'cat called')).map((m) => m.content)).not.toContain('my cat is called Whiskers')
    expect((await memory.recall([bob], 'cat called'))[0]?.content).toBe('my cat is called Whiskers')
    expect(await memory.forget(alice, secret.memory.id)).toBe(false) // not hers
    expect(await memory.forget(bob, secret.memory.id)).toBe(true)
    expect(await memory.recall([bob], 'cat called')).toEqual([])
  })

  test('the tools act for the person in context; a group chat sees its shared memories too', async () => {
    const [remember, recall, forget] = memoryTools(memory)
    const inGroup = { threadId: 't', chatId: -100, userId: 3, agent: 'assistant', toolCallId: 'c1' }
    expect(await remember!.run({ content: 'the team deploys on Fridays', scope: 'chat' }, inGroup)).toMatch(/^Stored memory \d+\.$/)
    expect(await remember!.run({ content: 'I prefer short answers' }, inGroup)).toMatch(/^Stored memory \d+\.$/)
    expect(await recall!.run({ query: 'when does the team deploy' }, { ...inGroup, userId: 4 })).toMatch(/the team deploys on Fridays/)
    expect(await recall!.run({ query: 'short answers prefer' }, { ...inGroup, userId: 4 })).toBe('No memory matches.') // user 3's, not 4's
    expect(await recall!.run({ query: 'team deploys' }, { ...inGroup, chatId: 4, userId: 4 })).toBe('No memory matches.') // not outside the group
    expect(await forget!.run({ id: 999999 }, inGroup)).toBe('There is no memory 999999 of this person.')
  })

  test('listing is paged, newest first', async () => {
    const owner = { scope: 'user' as const, ownerId: '77' }
    for (const word of ['alpha', 'bravo', 'charlie', 'delta', 'echo', 'foxtrot', 'golf']) await memory.remember(owner, `remember ${word} ${word} ${word}`, {})
    const first = await listMemories(db.pool, owner, 0, 5)
    const second = await listMemories(db.pool, owner, 1, 5)
    expect(first.total).toBe(7)
    expect(first.rows.map((m) => m.content.split(' ')[1])).toEqual(['golf', 'foxtrot', 'echo', 'delta', 'charlie'])
    expect(second.rows.map((m) => m.content.split(' ')[1])).toEqual(['bravo', 'alpha'])
  })

  test('a failing embedding endpoint costs the turn its recall, not its answer', async () => {
    const broken = new Memory({ pool: db.pool, embedder: { model: 'broken', embed: () => Promise.reject(new Error('503')) }, settings, log: quietLog })
    expect(await broken.recallForTurn({ userId: 1, chatId: 1, agent: 'assistant' }, 'cat')).toBeUndefined()
    await expect(broken.remember(alice, 'x y z', {})).rejects.toThrow('503')
  })
})

describe('embeddings from the OpenAI-compatible endpoint', () => {
  let openai: OpenAIEmulator
  beforeAll(async () => {
    openai = await new OpenAIEmulator().start()
  })
  afterAll(() => openai.close())
  const embedder = (dim: number) => createEmbedder({ apiKey: 'sk-test-embeddings-key', baseUrl: openai.baseUrl, model: 'test-embedding', dim, timeoutMs: 5000, maxRetries: 1 })

  test('batched requests, vectors as the endpoint computed them, with the tokens and cost it reported', async () => {
    openai.prices.set('test-embedding', { prompt: 0.00000002, completion: 0 })
    const texts = Array.from({ length: 70 }, (_, i) => `text number ${i}`)
    const { vectors, inputTokens, cost } = await embedder(256).embed(texts)
    expect(inputTokens).toBeGreaterThan(70)
    expect(cost).toBeCloseTo(inputTokens * 0.00000002, 12)
    openai.prices.delete('test-embedding')
    expect(vectors).toHaveLength(70)
    expect(vectors[3]).toEqual(hashedEmbedding('text number 3', 256))
    expect(openai.embeddingRequests.map((r) => r.input.length)).toEqual([64, 6])
    expect(openai.embeddingRequests[0]?.model).toBe('test-embedding')
  })

  test('a dimension that does not match EMBEDDING_DIM is a clear error', async () => {
    await expect(embedder(1536).embed(['x'])).rejects.toThrow('the embedding model returned 256 dimensions, but EMBEDDING_DIM is 1536')
  })
})
