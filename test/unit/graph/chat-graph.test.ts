import { AIMessage, HumanMessage } from '@langchain/core/messages'
import { END } from '@langchain/langgraph'
import { describe, expect, test } from 'vitest'
import { routeTurn } from '../../../graph/chat-graph.ts'

describe('routeTurn', () => {
  test('a new message (last in the state) goes to the model', () => {
    expect(routeTurn({ messages: [new HumanMessage({ id: 'turn:1', content: 'a' }), new AIMessage('b'), new HumanMessage({ id: 'turn:2', content: 'c' })] })).toBe('route')
  })

  test('a retried message that was answered before (replaced in place, not last) ends the turn', () => {
    expect(routeTurn({ messages: [new HumanMessage({ id: 'turn:1', content: 'a' }), new AIMessage('b')] })).toBe(END)
  })
})
