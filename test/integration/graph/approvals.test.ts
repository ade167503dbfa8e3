import { existsSync, mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { AIMessage } from '@langchain/core/messages'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { appendToFileTool } from '../../../agents/tools/append-to-file.ts'
import { InvalidDecisionError } from '../../../graph/approval.ts'
import { buildChatGraph } from '../../../graph/chat-graph.ts'
import { staticRoster } from '../../../agents/roster.ts'
import { createCheckpointer } from '../../../graph/checkpointer.ts'
import { Turns } from '../../../graph/turns.ts'
import { openPreparedDatabase } from '../../support/database.ts'
import { ScriptedChatModel } from '../../support/scripted-model.ts'

const WHO = { chatId: 1, userId: 1 }
let db: Awaited<ReturnType<typeof openPreparedDatabase>>
beforeAll(async () => {
  db = await openPreparedDatabase()
})
afterAll(() => db.close())

function setup() {
  const file = join(mkdtempSync(join(tmpdir(), 'notes-')), 'notes.txt')
  const tools = [appendToFileTool(file)]
  const model = new ScriptedChatModel([
    new AIMessage({ content: '', tool_calls: [{ id: 'call-1', name: 'append_to_file', args: { text: 'milk' } }] }),
    new AIMessage('done'),
  ])
  const checkpointer = createCheckpointer(db.pool)
  const graph = buildChatGraph({ model, agents: staticRoster([{ name: 'assistant', systemPrompt: 's', tools }]), maxMessages: 20 }).compile({ checkpointer })
  const conversation = new Turns({ graph, checkpointer, model, agents: staticRoster([{ name: 'assistant', systemPrompt: 's', tools }]) })
  return { conversation, written: () => (existsSync(file) ? readFileSync(file, 'utf8') : '') }
}

describe('interrupt and resume on PostgresSaver', () => {
  test('a risky call interrupts; a malformed decision is refused and leaves the thread resumable', async () => {
    const { conversation, written } = setup()
    const outcome = await conversation.reply({ chatId: 1, userId: 1, threadId: 'a1', turnId: '1', text: 'note milk' })
    expect(outcome).toMatchObject({ kind: 'approval', request: { tool: 'append_to_file', args: { text: 'milk' }, editableArg: 'text', type: 'tool' } })
    if (outcome.kind !== 'approval') return
    expect(written()).toBe('')
    await expect(conversation.resume('a1', outcome.interruptId, { type: 'edit' }, WHO)).rejects.toThrow(InvalidDecisionError)
    await expect(conversation.resume('a1', outcome.interruptId, { type: 'edit', args: { text: '' } }, WHO)).rejects.toThrow(InvalidDecisionError)
    expect((await conversation.pending('a1'))?.interruptId).toBe(outcome.interruptId)
    expect(await conversation.resume('a1', outcome.interruptId, { type: 'edit', args: { text: 'oat milk' } }, WHO)).toEqual({ kind: 'answer', text: 'done', agent: 'assistant' })
    expect(written()).toBe('oat milk\n')
    // Repeating the resume does nothing: the thread no longer waits on that interrupt.
    expect(await conversation.resume('a1', outcome.interruptId, { type: 'approve' }, WHO)).toBeUndefined()
    expect(written()).toBe('oat milk\n')
  })
})
