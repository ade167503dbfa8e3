import { describe, expect, test } from 'vitest'
import { routeUpdate } from '../../../bot/update.ts'

describe('routeUpdate', () => {
  test('a message belongs to its chat', () => {
    expect(routeUpdate({ update_id: 5, message: { chat: { id: -100 }, from: { id: 7 } } })).toMatchObject({ updateId: 5, lane: -100, kind: 'message' })
  })

  test('a callback query belongs to the chat of its message, else its sender', () => {
    expect(routeUpdate({ update_id: 1, callback_query: { from: { id: 7 }, message: { chat: { id: 42 } } } })?.lane).toBe(42)
    expect(routeUpdate({ update_id: 1, callback_query: { from: { id: 7 }, inline_message_id: 'x' } })?.lane).toBe(7)
  })

  test('an update with neither chat nor sender goes to lane 0', () => {
    expect(routeUpdate({ update_id: 3, poll: { id: 'p' } })).toMatchObject({ lane: 0, kind: 'poll' })
  })

  test.each([null, 'x', {}, { update_id: -1 }, { update_id: 1.5 }, { update_id: '7' }])('rejects %j', (body) => {
    expect(routeUpdate(body)).toBeUndefined()
  })
})
