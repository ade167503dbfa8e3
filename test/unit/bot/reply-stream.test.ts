import type { Api } from 'grammy'
import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest'
import { createLogger } from '../../../logger.ts'
import { DRAFT_EVERY_MS, EDIT_EVERY_MS, ReplyStream } from '../../../bot/reply-stream.ts'
import { MESSAGE_LIMIT } from '../../../bot/format/split.ts'

const log = createLogger({ level: 'silent', secrets: [] })

function fakeApi(editError?: Error) {
  const calls: Array<{ method: string; args: unknown[]; at: number }> = []
  const record = (method: string, args: unknown[]) => calls.push({ method, args, at: Date.now() })
  const api = {
    sendMessageDraft: async (...args: unknown[]) => (record('sendMessageDraft', args), true),
    sendMessage: async (...args: unknown[]) => (record('sendMessage', args), { message_id: 60 + calls.length }),
    editMessageText: async (...args: unknown[]) => {
      record('editMessageText', args)
      if (editError) throw editError
      return true
    },
    deleteMessage: async (...args: unknown[]) => (record('deleteMessage', args), true),
  } as unknown as Api
  return { api, calls, methods: () => calls.map((c) => c.method) }
}

beforeEach(() => {
  vi.useFakeTimers()
})
afterEach(() => {
  vi.useRealTimers()
})

describe('ReplyStream', () => {
  test('a private chat: drafts every 400 ms at most, blank text never shown, then the answer sent once', async () => {
    const { api, calls, methods } = fakeApi()
    const stream = new ReplyStream(api, { chatId: 1, private: true }, log, 0)
    stream.push(undefined, '   ')
    await vi.advanceTimersByTimeAsync(10)
    expect(calls).toHaveLength(0)
    for (let i = 1; i <= 10; i++) {
      stream.push(undefined, 'word '.repeat(i))
      await vi.advanceTimersByTimeAsync(100)
    }
    const drafts = calls.filter((c) => c.method === 'sendMessageDraft')
    expect(drafts.map((d) => d.at - drafts[0]!.at)).toEqual([0, DRAFT_EVERY_MS, 2 * DRAFT_EVERY_MS])
    expect(drafts.every((d) => d.args[1] === 1)).toBe(true) // a zero draft id becomes 1
    await stream.finish(undefined, 'the answer')
    expect(methods().at(-1)).toBe('sendMessage')
    expect(calls.at(-1)!.args).toEqual([1, 'the answer', { parse_mode: 'HTML' }])
  })

  test('a group: the preview is edited every 1.5 s at most and becomes the first part of a long answer', async () => {
    const { api, calls, methods } = fakeApi()
    const stream = new ReplyStream(api, { chatId: -5, topicId: 3, private: false }, log, 9)
    for (let i = 1; i <= 20; i++) {
      stream.push(undefined, `so far ${i}`)
      await vi.advanceTimersByTimeAsync(100)
    }
    const edits = calls.filter((c) => c.method === 'editMessageText')
    expect(edits.map((e) => e.at - calls[0]!.at)).toEqual([EDIT_EVERY_MS])
    const answer = `${'a'.repeat(MESSAGE_LIMIT - 10)}\n\n${'b'.repeat(50)}`
    await stream.finish(undefined, answer)
    const previewId = 61 // the fake's id for the first message sent
    expect(methods()).toEqual(['sendMessage', 'editMessageText', 'editMessageText', 'sendMessage'])
    expect(calls[0]!.args).toEqual([-5, 'so far 1', { message_thread_id: 3, parse_mode: 'HTML' }])
    expect(calls[2]!.args).toEqual([-5, previewId, 'a'.repeat(MESSAGE_LIMIT - 10), { parse_mode: 'HTML' }])
    expect(calls[3]!.args).toEqual([-5, 'b'.repeat(50), { message_thread_id: 3, parse_mode: 'HTML' }])
  })

  test('a group: "not modified" at the end means the preview already is the answer', async () => {
    const { api, methods } = fakeApi(new Error('Bad Request: message is not modified'))
    const stream = new ReplyStream(api, { chatId: -5, private: false }, log, 9)
    stream.push(undefined, 'done')
    await vi.advanceTimersByTimeAsync(10)
    await stream.finish(undefined, 'done')
    expect(methods()).toEqual(['sendMessage', 'editMessageText'])
  })

  test('a group: a preview that cannot be edited is deleted and the answer sent anew', async () => {
    const { api, methods } = fakeApi(new Error('Bad Request: message to edit not found'))
    const stream = new ReplyStream(api, { chatId: -5, private: false }, log, 9)
    stream.push(undefined, 'so far')
    await vi.advanceTimersByTimeAsync(10)
    await stream.finish(undefined, 'the answer')
    expect(methods()).toEqual(['sendMessage', 'editMessageText', 'deleteMessage', 'sendMessage'])
  })

  test('discard takes the preview away and nothing is shown afterwards', async () => {
    const { api, calls, methods } = fakeApi()
    const stream = new ReplyStream(api, { chatId: -5, private: false }, log, 9)
    stream.push(undefined, 'so far')
    await vi.advanceTimersByTimeAsync(10)
    stream.push(undefined, 'more')
    await stream.discard()
    stream.push(undefined, 'even more')
    await vi.advanceTimersByTimeAsync(10_000)
    expect(methods()).toEqual(['sendMessage', 'deleteMessage'])
    expect(calls[1]!.args).toEqual([-5, 61])
  })

  test('Markdown is rendered: the preview formats what is written so far, the answer is signed and formatted', async () => {
    const { api, calls } = fakeApi()
    const stream = new ReplyStream(api, { chatId: -5, private: false }, log, 9)
    stream.push('assistant', 'Here is **bold and `co')
    await vi.advanceTimersByTimeAsync(10)
    expect(calls[0]!.args.slice(1)).toEqual(['[assistant] Here is **bold and `co', { parse_mode: 'HTML' }])
    await stream.finish('assistant', 'Here is **bold** and `a < b`')
    expect(calls.at(-1)!.args).toEqual([-5, 61, '[assistant] Here is <b>bold</b> and <code>a &lt; b</code>', { parse_mode: 'HTML' }])
  })
})
