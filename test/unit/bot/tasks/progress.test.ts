import type { Api } from 'grammy'
import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest'
import type { TaskRow } from '../../../../db/tasks.ts'
import { createLogger } from '../../../../logger.ts'
import { TaskProgressReporter } from '../../../../bot/tasks/progress.ts'

const log = createLogger({ level: 'silent', secrets: [] })
const task = (id: string, progressMessageId: number | null = null) => ({ id, chatId: 100, progressMessageId }) as TaskRow

function fakeApi() {
  const calls: unknown[][] = []
  let nextId = 500
  const api = {
    sendMessage: async (chatId: number, text: string, other?: { parse_mode?: string }) => (calls.push(['send', chatId, text, other?.parse_mode]), { message_id: nextId++ }),
    editMessageText: async (chatId: number, messageId: number, text: string, other?: { parse_mode?: string }) => (calls.push(['edit', chatId, messageId, text, other?.parse_mode]), true),
  } as unknown as Api
  return { api, calls }
}

beforeEach(() => {
  vi.useFakeTimers()
})
afterEach(() => {
  vi.useRealTimers()
})

describe('TaskProgressReporter', () => {
  test('sends one message per task (HTML), hands its id to onMessage, then edits it every 3 s at most', async () => {
    const { api, calls } = fakeApi()
    const kept: Array<[string, number]> = []
    const reporter = new TaskProgressReporter({ api, log, onMessage: async (taskId, id) => void kept.push([taskId, id]) })
    reporter.update(task('t1'), { activity: 'preparing', lines: [] })
    await vi.advanceTimersByTimeAsync(10)
    reporter.update(task('t1'), { activity: 'running aider', lines: ['a'] })
    reporter.update(task('t1'), { activity: 'running aider', lines: ['a', 'b'] })
    await vi.advanceTimersByTimeAsync(2000)
    expect(calls).toEqual([['send', 100, 'Task <code>t1</code>: preparing…', 'HTML']])
    await vi.advanceTimersByTimeAsync(1000)
    expect(calls.at(-1)).toEqual(['edit', 100, 500, 'Task <code>t1</code>: running aider…\n\n<pre>a\nb</pre>', 'HTML'])
    expect(calls).toHaveLength(2)
    expect(kept).toEqual([['t1', 500]])
  })

  test('settle waits for onMessage, stops further edits, and a later step edits the recorded message', async () => {
    const { api, calls } = fakeApi()
    let release = () => {}
    const reporter = new TaskProgressReporter({ api, log, onMessage: () => new Promise<void>((resolve) => (release = resolve)) })
    reporter.update(task('t2'), { activity: 'preparing', lines: [] })
    await vi.advanceTimersByTimeAsync(10)
    reporter.update(task('t2'), { activity: 'committing', lines: [] })
    let settled = false
    const settling = reporter.settle('t2').then(() => (settled = true))
    await vi.advanceTimersByTimeAsync(10)
    expect(settled).toBe(false)
    release()
    await settling
    await vi.advanceTimersByTimeAsync(10_000)
    expect(calls).toEqual([['send', 100, 'Task <code>t2</code>: preparing…', 'HTML']]) // 'committing' was dropped by the settle

    reporter.update(task('t2', 500), { activity: 'pushing', lines: [] })
    await vi.advanceTimersByTimeAsync(10)
    expect(calls.at(-1)).toEqual(['edit', 100, 500, 'Task <code>t2</code>: pushing…', 'HTML'])
    await reporter.settle('t2')
    await expect(reporter.settle('unknown')).resolves.toBeUndefined()
  })
})
