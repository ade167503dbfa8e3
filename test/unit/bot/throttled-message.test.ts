import { Writable } from 'node:stream'
import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest'
import { createLogger } from '../../../logger.ts'
import { MESSAGE_LIMIT } from '../../../bot/format/split.ts'
import { ThrottledMessage } from '../../../bot/throttled-message.ts'
import type { MessageApi, MessageTarget } from '../../../bot/throttled-message.ts'

interface Call {
  method: 'sendMessage' | 'editMessageText' | 'sendMessageDraft'
  args: unknown[]
  text: string
  startedAt: number
  endedAt?: number
}

/** A Telegram API whose calls take `latencyMs` of (fake) time and fail while `failWith` is set. */
function fakeApi(latencyMs: number) {
  const calls: Call[] = []
  let active = 0
  let maxActive = 0
  let failWith: Error | undefined
  const call = async <T>(method: Call['method'], args: unknown[], text: string, result: T): Promise<T> => {
    const entry: Call = { method, args, text, startedAt: Date.now() }
    calls.push(entry)
    maxActive = Math.max(maxActive, ++active)
    try {
      await new Promise((resolve) => setTimeout(resolve, latencyMs))
      if (failWith) throw failWith
      return result
    } finally {
      active--
      entry.endedAt = Date.now()
    }
  }
  const api = {
    sendMessage: (chatId: number, text: string, other?: unknown) => call('sendMessage', [chatId, text, other], text, { message_id: 77 }),
    editMessageText: (chatId: number, messageId: number, text: string) => call('editMessageText', [chatId, messageId, text], text, true),
    sendMessageDraft: (chatId: number, draftId: number, text: string, other?: unknown) => call('sendMessageDraft', [chatId, draftId, text, other], text, true),
  } as unknown as MessageApi
  return {
    api,
    calls,
    texts: () => calls.map((c) => c.text),
    maxActive: () => maxActive,
    fail: (err: Error | undefined) => (failWith = err),
  }
}

function memoryLog() {
  const lines: Array<Record<string, unknown>> = []
  const destination = new Writable({ write: (chunk: Buffer, _enc, done) => (lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>), done()) })
  return { log: createLogger({ level: 'debug', secrets: [], destination }), lines }
}

const EVERY = 1000

function editor(latencyMs: number, target: MessageTarget = { kind: 'message', chatId: 5 }) {
  const fake = fakeApi(latencyMs)
  const { log, lines } = memoryLog()
  return { ...fake, lines, message: new ThrottledMessage({ api: fake.api, target, everyMs: EVERY, log }) }
}

/** Whether a promise has settled, without waiting for it. */
async function isSettled(promise: Promise<unknown>): Promise<boolean> {
  const marker = Symbol('pending')
  return (await Promise.race([promise, Promise.resolve(marker)])) !== marker
}

beforeEach(() => {
  vi.useFakeTimers()
})
afterEach(() => {
  vi.useRealTimers()
})

describe('ThrottledMessage', () => {
  test('shows the first text at once, then at most one call per interval, and always the newest text last', async () => {
    const { message, calls, texts } = editor(50)
    const start = Date.now()
    let text = ''
    for (let i = 0; i < 35; i++) {
      text += `${i} `
      message.show(text)
      await vi.advanceTimersByTimeAsync(100)
    }
    await vi.advanceTimersByTimeAsync(5 * EVERY)
    // 3.5 s of text every 100 ms: a call at 0, 1, 2 and 3 s, and one more for the rest.
    expect(calls.map((c) => c.startedAt - start)).toEqual([0, 1000, 2000, 3000, 4000])
    expect(texts().at(-1)).toBe(text)
    expect(calls.map((c) => c.method)).toEqual(['sendMessage', 'editMessageText', 'editMessageText', 'editMessageText', 'editMessageText'])
  })

  test('texts shown between two calls are skipped for the newest one', async () => {
    const { message, texts } = editor(10)
    message.show('a')
    await vi.advanceTimersByTimeAsync(20)
    message.show('ab')
    message.show('abc')
    await vi.advanceTimersByTimeAsync(EVERY / 2)
    expect(texts()).toEqual(['a'])
    await vi.advanceTimersByTimeAsync(EVERY)
    expect(texts()).toEqual(['a', 'abc'])
  })

  test('an unchanged text is not sent again', async () => {
    const { message, texts } = editor(10)
    message.show('same')
    await vi.advanceTimersByTimeAsync(2 * EVERY)
    message.show('same')
    await vi.advanceTimersByTimeAsync(2 * EVERY)
    expect(texts()).toEqual(['same'])
  })

  test('a slow call is never overlapped: the next starts after it ends', async () => {
    const { message, calls, maxActive } = editor(2500)
    for (let i = 0; i < 60; i++) {
      message.show(`text ${i}`)
      await vi.advanceTimersByTimeAsync(100)
    }
    await vi.advanceTimersByTimeAsync(10_000)
    expect(maxActive()).toBe(1)
    expect(calls.length).toBeGreaterThanOrEqual(3)
    for (let i = 1; i < calls.length; i++) expect(calls[i]!.startedAt).toBeGreaterThanOrEqual(calls[i - 1]!.endedAt!)
    expect(calls.at(-1)!.text).toBe('text 59')
  })

  test('close waits for the call in flight, drops the pending text and ignores later ones', async () => {
    const { message, texts } = editor(500)
    message.show('one')
    await vi.advanceTimersByTimeAsync(1) // 'one' is on its way
    message.show('two') // waits for the interval
    const closed = message.close()
    await vi.advanceTimersByTimeAsync(400)
    expect(await isSettled(closed)).toBe(false)
    await vi.advanceTimersByTimeAsync(100)
    expect(await isSettled(closed)).toBe(true)
    message.show('three')
    await vi.advanceTimersByTimeAsync(5 * EVERY)
    expect(texts()).toEqual(['one'])
  })

  test('close between calls drops the waiting text and leaves no timer behind', async () => {
    const { message, texts } = editor(10)
    message.show('one')
    await vi.advanceTimersByTimeAsync(20)
    message.show('two')
    expect(vi.getTimerCount()).toBe(1) // 'two' waits for the interval
    await message.close()
    expect(vi.getTimerCount()).toBe(0)
    await vi.advanceTimersByTimeAsync(5 * EVERY)
    expect(texts()).toEqual(['one'])
  })

  test('a failed call is logged, never thrown, and the next interval tries again', async () => {
    const { message, calls, texts, fail, lines } = editor(10)
    fail(new Error('Bad Request: chat not found'))
    expect(() => message.show('hello')).not.toThrow()
    await vi.advanceTimersByTimeAsync(EVERY / 2)
    expect(calls).toHaveLength(1)
    const logged = lines.filter((l) => l.msg === 'could not show the text so far')
    expect(logged).toHaveLength(1)
    expect((logged[0]!.err as { message: string }).message).toBe('Bad Request: chat not found')
    fail(undefined)
    await vi.advanceTimersByTimeAsync(EVERY)
    expect(texts()).toEqual(['hello', 'hello'])
    await vi.advanceTimersByTimeAsync(5 * EVERY)
    expect(calls).toHaveLength(2) // shown now: no further tries
    await expect(message.close()).resolves.toBeUndefined()
  })

  test('close resolves even when the call in flight fails', async () => {
    const { message, fail, lines } = editor(300)
    fail(new Error('network down'))
    message.show('hello')
    await vi.advanceTimersByTimeAsync(1)
    const closed = message.close()
    await vi.advanceTimersByTimeAsync(300)
    await expect(closed).resolves.toBeUndefined()
    expect(lines.some((l) => l.msg === 'could not show the text so far')).toBe(true)
  })

  test('an edit refused as "not modified" counts as shown: no retry, no log', async () => {
    const { message, calls, fail, lines } = editor(10, { kind: 'message', chatId: 5, messageId: 9 })
    fail(new Error("Call to 'editMessageText' failed! (400: Bad Request: message is not modified)"))
    message.show('already there')
    await vi.advanceTimersByTimeAsync(5 * EVERY)
    expect(calls).toHaveLength(1)
    expect(lines).toHaveLength(0)
  })

  test('a message is sent once, in its topic, then edited; its id is reported before close returns', async () => {
    const reported: number[] = []
    let release = () => {}
    const onMessage = (id: number) => new Promise<void>((resolve) => (release = () => (reported.push(id), resolve())))
    const { message, calls } = editor(10, { kind: 'message', chatId: 5, topicId: 3, onMessage })
    message.show('first')
    await vi.advanceTimersByTimeAsync(20)
    expect(message.messageId).toBe(77)
    const closed = message.close()
    await vi.advanceTimersByTimeAsync(1)
    expect(await isSettled(closed)).toBe(false) // still keeping the id
    release()
    await closed
    expect(reported).toEqual([77])
    expect(calls.map((c) => c.args)).toEqual([[5, 'first', { message_thread_id: 3 }]])
  })

  test('a known message is edited, never sent anew', async () => {
    const { message, calls } = editor(10, { kind: 'message', chatId: 5, messageId: 41 })
    message.show('progress')
    await vi.advanceTimersByTimeAsync(20)
    expect(calls.map((c) => [c.method, ...c.args])).toEqual([['editMessageText', 5, 41, 'progress']])
  })

  test('a failure to keep the message id is logged and does not resend the text', async () => {
    const { message, calls, lines } = editor(10, { kind: 'message', chatId: 5, onMessage: () => Promise.reject(new Error('db down')) })
    message.show('first')
    await vi.advanceTimersByTimeAsync(5 * EVERY)
    expect(calls.map((c) => c.method)).toEqual(['sendMessage'])
    expect(lines.map((l) => l.msg)).toEqual(['could not keep the id of the message'])
  })

  test('drafts go to sendMessageDraft with the draft id and topic, and have no message id', async () => {
    const { message, calls } = editor(10, { kind: 'draft', chatId: 5, draftId: 12, topicId: 4 })
    message.show('so far')
    await vi.advanceTimersByTimeAsync(2 * EVERY)
    message.show('so far, more')
    await vi.advanceTimersByTimeAsync(2 * EVERY)
    expect(calls.map((c) => [c.method, ...c.args])).toEqual([
      ['sendMessageDraft', 5, 12, 'so far', { message_thread_id: 4 }],
      ['sendMessageDraft', 5, 12, 'so far, more', { message_thread_id: 4 }],
    ])
    expect(message.messageId).toBeUndefined()
  })

  test('a text longer than one message is clipped with an ellipsis', async () => {
    const { message, texts } = editor(10)
    message.show('x'.repeat(MESSAGE_LIMIT + 100))
    await vi.advanceTimersByTimeAsync(20)
    expect(texts()[0]).toHaveLength(MESSAGE_LIMIT)
    expect(texts()[0]!.endsWith('…')).toBe(true)
  })
})
