import { AIMessage, HumanMessage, ToolMessage } from '@langchain/core/messages'
import { describe, expect, test } from 'vitest'
import { messagesToDrop, textOf } from '../../../graph/history.ts'
import { storedReply } from '../../../graph/turns.ts'

const human = (id: string) => new HumanMessage({ id, content: id })
const ai = (id: string) => new AIMessage({ id, content: id })

describe('messagesToDrop', () => {
  test('drops nothing under the limit', () => {
    expect(messagesToDrop([human('h1'), ai('a1')], 4)).toEqual([])
  })

  test('drops the oldest messages so the rest start at a person message', () => {
    const msgs = [human('h1'), ai('a1'), human('h2'), ai('a2'), human('h3'), ai('a3')]
    expect(messagesToDrop(msgs, 4).map((m) => m.id)).toEqual(['h1', 'a1'])
    // A limit of 3 would start at a1: it moves on to the next person message.
    expect(messagesToDrop(msgs, 3).map((m) => m.id)).toEqual(['h1', 'a1', 'h2', 'a2'])
  })

  test('never separates a tool call from its result', () => {
    const call = new AIMessage({ id: 'call', content: '', tool_calls: [{ id: 't1', name: 'x', args: {} }] })
    const result = new ToolMessage({ id: 'res', content: 'ok', tool_call_id: 't1' })
    const msgs = [human('h1'), call, result, ai('a1'), human('h2'), ai('a2')]
    const kept = msgs.slice(messagesToDrop(msgs, 4).length)
    expect(kept.map((m) => m.id)).toEqual(['h2', 'a2'])
  })
})

describe('storedReply', () => {
  test('finds the answer that followed a turn, and nothing for an unanswered or unknown turn', () => {
    const msgs = [human('turn:1'), ai('a1'), human('turn:2')]
    expect(storedReply(msgs, 'turn:1')?.content).toBe('a1')
    expect(storedReply(msgs, 'turn:2')).toBeUndefined()
    expect(storedReply(msgs, 'turn:3')).toBeUndefined()
  })
})

describe('textOf', () => {
  test('joins the text parts of structured content', () => {
    expect(textOf(new AIMessage({ content: [{ type: 'text', text: 'a' }, { type: 'text', text: 'b' }] }))).toBe('ab')
    expect(textOf(undefined)).toBe('')
  })
})
