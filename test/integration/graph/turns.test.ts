import { FakeListChatModel } from '@langchain/core/utils/testing'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { buildChatGraph } from '../../../graph/chat-graph.ts'
import { staticRoster } from '../../../agents/roster.ts'
import { createCheckpointer } from '../../../graph/checkpointer.ts'
import { Turns } from '../../../graph/turns.ts'
import { openPreparedDatabase } from '../../support/database.ts'

let db: Awaited<ReturnType<typeof openPreparedDatabase>>
beforeAll(async () => {
  db = await openPreparedDatabase()
})
afterAll(() => db.close())

function conversation(responses: string[], maxMessages = 6) {
  const checkpointer = createCheckpointer(db.pool)
  const model = new FakeListChatModel({ responses })
  const graph = buildChatGraph({ model, agents: staticRoster([{ name: 'assistant', systemPrompt: 'sys' }]), maxMessages }).compile({ checkpointer })
  return { conversation: new Turns({ graph, checkpointer, model, agents: staticRoster([{ name: 'assistant', systemPrompt: 'sys' }]) }), graph }
}

const count = async (table: string, thread: string) =>
  Number((await db.pool.query<{ n: string }>(`select count(*) as n from ${table} where thread_id = $1`, [thread])).rows[0]?.n)

describe('Turns on PostgresSaver', () => {
  test('keeps the stored history and the checkpoint rows bounded however long the chat', async () => {
    const { conversation: c, graph } = conversation(Array.from({ length: 40 }, (_, i) => `answer ${i}`))
    const thread = 'bounded'
    const turn = async (i: number) => expect(await c.reply({ chatId: 1, userId: 1, threadId: thread, turnId: String(i), text: `question ${i}` })).toEqual({ kind: 'answer', text: `answer ${i}`, agent: 'assistant' })
    for (let i = 0; i < 10; i++) await turn(i)
    const blobsAfter10 = await count('checkpoint_blobs', thread)
    for (let i = 10; i < 40; i++) await turn(i)
    const state = await graph.getState({ configurable: { thread_id: thread } })
    const messages = (state.values as { messages: Array<{ content: string }> }).messages
    expect(messages.length).toBeLessThanOrEqual(6)
    expect(messages.at(-1)?.content).toBe('answer 39')
    expect(await count('checkpoints', thread)).toBe(1)
    // One blob per channel of the newest checkpoint: the same after 40 turns as after 10.
    expect(await count('checkpoint_blobs', thread)).toBe(blobsAfter10)
    expect(blobsAfter10).toBeLessThanOrEqual(6)
  })

  test('a retried turn whose answer was stored returns it without calling the model again', async () => {
    const { conversation: c } = conversation(['first answer', 'second answer'])
    const answer = (text: string) => ({ kind: 'answer', text, agent: 'assistant' })
    expect(await c.reply({ chatId: 1, userId: 1, threadId: 'retry', turnId: '1', text: 'hi' })).toEqual(answer('first answer'))
    expect(await c.reply({ chatId: 1, userId: 1, threadId: 'retry', turnId: '1', text: 'hi' })).toEqual(answer('first answer'))
    expect(await c.reply({ chatId: 1, userId: 1, threadId: 'retry', turnId: '2', text: 'again' })).toEqual(answer('second answer'))
  })

  test('forget deletes the thread', async () => {
    const { conversation: c } = conversation(['x'])
    await c.reply({ chatId: 1, userId: 1, threadId: 'gone', turnId: '1', text: 'hi' })
    await c.forget('gone')
    expect(await count('checkpoints', 'gone')).toBe(0)
  })
})
