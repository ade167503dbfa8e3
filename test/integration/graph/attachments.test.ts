import { randomBytes } from 'node:crypto'
import { AIMessage } from '@langchain/core/messages'
import type { BaseMessage } from '@langchain/core/messages'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { staticRoster } from '../../../agents/roster.ts'
import { AttachmentStore } from '../../../graph/attachments.ts'
import { buildChatGraph } from '../../../graph/chat-graph.ts'
import type { ChatModel } from '../../../graph/chat-graph.ts'
import { createCheckpointer } from '../../../graph/checkpointer.ts'
import { Turns } from '../../../graph/turns.ts'
import { openPreparedDatabase } from '../../support/database.ts'
import { ScriptedChatModel } from '../../support/scripted-model.ts'

let db: Awaited<ReturnType<typeof openPreparedDatabase>>
beforeAll(async () => {
  db = await openPreparedDatabase()
})
afterAll(() => db.close())

const roster = staticRoster([{ name: 'assistant', systemPrompt: 'sys' }])

function turnsWith(model: ChatModel, maxMessages = 40) {
  const checkpointer = createCheckpointer(db.pool)
  const attachments = new AttachmentStore(db.pool)
  const graph = buildChatGraph({ model, agents: roster, maxMessages, attachments }).compile({ checkpointer })
  return new Turns({ graph, checkpointer, model, agents: roster, attachments })
}

const answers = (n: number) => Array.from({ length: n }, (_, i) => new AIMessage(`answer ${i}`))
const partsOf = (m: BaseMessage | undefined) => (Array.isArray(m?.content) ? (m.content as Array<Record<string, unknown>>) : [])
const imageUrls = (messages: BaseMessage[]) => messages.flatMap(partsOf).filter((p) => p.type === 'image_url').map((p) => (p.image_url as { url: string }).url)
const scalar = async (sql: string, params: unknown[]) => Number((await db.pool.query<{ n: string }>(sql, params)).rows[0]?.n ?? 0)
const blobBytes = (thread: string) => scalar('select coalesce(sum(octet_length(blob)), 0) as n from checkpoint_blobs where thread_id = $1', [thread])
const attachmentRows = (thread: string) => scalar('select count(*) as n from attachments where thread_id = $1', [thread])

describe('photos and documents in a conversation', () => {
  test('the model reads a photo in its turn and in later ones, while the checkpoint holds only its id', async () => {
    const model = new ScriptedChatModel(answers(21))
    const turns = turnsWith(model)
    const photo = randomBytes(200_000) // random: no compression hides it in a blob
    const thread = 'photo-20-turns'
    const who = { chatId: 1, userId: 1, threadId: thread }
    await turns.reply({ ...who, turnId: '1', text: 'what is this?', attachments: [{ kind: 'image', mime: 'image/jpeg', data: photo }] })
    const url = `data:image/jpeg;base64,${photo.toString('base64')}`
    expect(imageUrls(model.seen[0]!)).toEqual([url])
    for (let i = 2; i <= 20; i++) await turns.reply({ ...who, turnId: String(i), text: `question ${i}` })
    // The twentieth call still sees the photo: a follow-up question about it works.
    expect(imageUrls(model.seen[19]!)).toEqual([url])
    const bytes = await blobBytes(thread)
    console.log(`checkpoint bytes after 20 turns with a 200 KB photo in the first: ${bytes}`)
    expect(bytes).toBeLessThan(20_000)
    expect(await attachmentRows(thread)).toBe(1)
  })

  test('a document reaches the model as text with its name and note; a retried turn stores it once', async () => {
    const model = new ScriptedChatModel(answers(2))
    const turns = turnsWith(model)
    const who = { chatId: 1, userId: 1, threadId: 'doc' }
    const doc = { kind: 'document' as const, mime: 'text/csv', name: 'prices.csv', text: 'item,price\ntea,3', note: '[cut note]' }
    await turns.reply({ ...who, turnId: '1', text: 'sum it', attachments: [doc] })
    await turns.reply({ ...who, turnId: '1', text: 'sum it', attachments: [doc] })
    const texts = partsOf(model.seen[0]!.at(-1)).map((p) => p.text)
    expect(texts[0]).toBe('sum it')
    expect(texts[1]).toContain('"prices.csv"')
    expect(texts[1]).toContain('item,price\ntea,3')
    expect(texts[1]).toContain('[cut note]')
    expect(model.seen).toHaveLength(1)
    expect(await attachmentRows('doc')).toBe(1)
  })

  test('attachments go when the trimmed history drops their message, and all of them on forget', async () => {
    const model = new ScriptedChatModel(answers(8))
    const turns = turnsWith(model, 4)
    const who = { chatId: 1, userId: 1, threadId: 'trimmed' }
    await turns.reply({ ...who, turnId: '1', text: 'see', attachments: [{ kind: 'image', mime: 'image/png', data: Buffer.from('png') }] })
    expect(await attachmentRows('trimmed')).toBe(1)
    for (let i = 2; i <= 4; i++) await turns.reply({ ...who, turnId: String(i), text: `q${i}` })
    expect(await attachmentRows('trimmed')).toBe(0)
    await turns.reply({ ...who, turnId: '5', text: 'again', attachments: [{ kind: 'image', mime: 'image/png', data: Buffer.from('png2') }] })
    expect(await attachmentRows('trimmed')).toBe(1)
    await turns.forget('trimmed')
    expect(await attachmentRows('trimmed')).toBe(0)
  })
})

/** A text-only model behind an endpoint that refuses image input the way OpenRouter does (404). */
class TextOnlyModel extends ScriptedChatModel {
  override async _generate(messages: BaseMessage[]) {
    if (imageUrls(messages).length) throw Object.assign(new Error('No endpoints found that support image input'), { status: 404 })
    return super._generate(messages)
  }
}

describe('a model that cannot read images', () => {
  test('refuses the turn once; the photo is taken back out, so the next text turn works', async () => {
    const model = new TextOnlyModel(answers(1))
    const turns = turnsWith(model)
    const who = { chatId: 1, userId: 1, threadId: 'text-only' }
    await expect(turns.reply({ ...who, turnId: '1', text: 'look', attachments: [{ kind: 'image', mime: 'image/png', data: Buffer.from('png') }] })).rejects.toMatchObject({ kind: 'rejected' })
    expect(await turns.reply({ ...who, turnId: '2', text: 'hello' })).toMatchObject({ kind: 'answer', text: 'answer 0' })
    expect(model.seen.at(-1)!.map((m) => m.getType())).toEqual(['system', 'human'])
    expect(await attachmentRows('text-only')).toBe(0)
  })
})
