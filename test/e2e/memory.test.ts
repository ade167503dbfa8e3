import { afterEach, beforeEach, describe, expect, test } from 'vitest'
import { Harness, USER_ID, WEBHOOK_SECRET } from '../support/harness.ts'
import { waitUntil } from '../support/http.ts'
import { lastUserText } from '../support/openai-emulator.ts'
import type { ChatRequest, ModelTurn } from '../support/openai-emulator.ts'
import { buttonsOf } from '../support/telegram-emulator.ts'
import type { TelegramCall } from '../support/telegram-emulator.ts'

let h: Harness
beforeEach(async () => {
  h = await Harness.create()
})
afterEach(() => h.closeAndCheckLogs())

/** "remember that X" → the remember tool; a tool result → "noted"; anything else → echo. */
function model(req: ChatRequest): ModelTurn {
  const last = req.messages.at(-1)
  if (last?.role === 'tool') return { content: `noted: ${String(last.content)}` }
  const text = lastUserText(req)
  const fact = /^remember that (.+)$/.exec(text)
  return fact ? { toolCalls: [{ name: 'remember', args: { content: fact[1] } }] } : { content: `echo: ${text}` }
}

/** The text a call showed, as the person sees it (formatting parsed away). */
const shownText = (c: TelegramCall) => c.shown?.text ?? ''
const systemTexts = (req: ChatRequest | undefined) => (req?.messages ?? []).filter((m) => m.role === 'system').map((m) => (typeof m.content === 'string' ? m.content : ''))

describe('long-term memory, end to end', () => {
  test('remembered in one thread, recalled after /new: the model request carries the memory', async () => {
    h.openai.respondWith(model)
    const service = await h.startService()
    await service.deliver(h.text('remember that my cat is called Tom'), WEBHOOK_SECRET)
    expect((await h.telegram.waitForTexts(USER_ID, 1))[0]).toMatch(/^\[assistant\] noted: Stored memory \d+\.$/)
    await service.deliver(h.text('/new'), WEBHOOK_SECRET)
    await h.telegram.waitForTexts(USER_ID, 2)
    const before = h.openai.requests.length
    await service.deliver(h.text('what is my cat called'), WEBHOOK_SECRET)
    await h.telegram.waitForTexts(USER_ID, 3)
    const request = h.openai.requests.slice(before).find((r) => lastUserText(r) === 'what is my cat called')
    expect(request?.messages.filter((m) => m.role === 'user')).toHaveLength(1) // a new thread: no old history
    expect(systemTexts(request).join('\n')).toMatch(/Memories \(facts stored earlier.*\n- \[memory \d+\] my cat is called Tom/)
    // Another person asking the same gets nothing of it.
    await service.deliver(h.text('what is my cat called', { userId: 2001 }), WEBHOOK_SECRET)
    await h.telegram.waitForTexts(2001, 1)
    const other = h.openai.requests.findLast((r) => lastUserText(r) === 'what is my cat called')
    expect(systemTexts(other).join('\n')).not.toMatch(/Tom/)
  })

  test('embeddings failing: the reply still comes, without recall', async () => {
    h.openai.respondWith(model)
    const first = await h.startService()
    await first.deliver(h.text('remember that my cat is called Tom'), WEBHOOK_SECRET)
    await h.telegram.waitForTexts(USER_ID, 1)
    await first.stop()
    // Recall embeds the message only for people who have memories; this one has one.
    const service = await h.startService({ EMBEDDING_BASE_URL: 'http://127.0.0.1:9/v1' }) // nothing listens there
    await service.deliver(h.text('hello there'), WEBHOOK_SECRET)
    expect((await h.telegram.waitForTexts(USER_ID, 2))[1]).toBe('[assistant] echo: hello there')
    await service.waitForLog((l) => l.msg === 'recall failed; answering without memories')
  })

  test('a person with no memories costs no embedding request', async () => {
    h.openai.respondWith(model)
    const service = await h.startService()
    await service.deliver(h.text('hello there', { userId: 2003 }), WEBHOOK_SECRET)
    expect(await h.telegram.waitForTexts(2003, 1)).toEqual(['[assistant] echo: hello there'])
    expect(h.openai.embeddingRequests).toHaveLength(0)
  })

  test('/memory lists with forget buttons; /forget all asks first, then forgets', async () => {
    h.openai.respondWith(model)
    const service = await h.startService()
    for (const fact of ['my cat is called Tom', 'I live in Lisbon']) await service.deliver(h.text(`remember that ${fact}`), WEBHOOK_SECRET)
    await h.telegram.waitForTexts(USER_ID, 2)
    await service.deliver(h.text('/memory'), WEBHOOK_SECRET)
    const list = await waitUntil(() => h.telegram.callsOf('sendMessage').find((c) => shownText(c).startsWith('Your memories')), 'the memory list')
    expect(shownText(list)).toMatch(/^Your memories \(2\), newest first, page 1 of 1:\n\n#\d+ I live in Lisbon .*\n#\d+ my cat is called Tom/)
    expect(list.shown?.entities.filter((e) => e.type === 'code')).toHaveLength(2) // the ids
    const forgetTom = buttonsOf(list).find((b) => shownText(list).includes(`${b.text.replace('Forget ', '')} my cat`))!
    const messageId = (list.result as { message_id: number }).message_id
    await service.deliver(h.press(messageId, forgetTom.callback_data), WEBHOOK_SECRET)
    const edited = await h.telegram.waitForCall('editMessageText', (c) => c.params.message_id === messageId)
    expect(shownText(edited)).toMatch(/^Your memories \(1\)/)
    expect(shownText(edited)).not.toMatch(/cat/)
    // Someone else cannot press the Forget all of this person.
    await service.deliver(h.text('/forget all'), WEBHOOK_SECRET)
    const confirm = await waitUntil(() => h.telegram.callsOf('sendMessage').find((c) => String(c.params.text).startsWith('Forget all 1 memories')), 'the confirmation')
    const confirmId = (confirm.result as { message_id: number }).message_id
    const [yes] = buttonsOf(confirm)
    await service.deliver(h.press(confirmId, yes!.callback_data, { userId: 2001, chatId: USER_ID }), WEBHOOK_SECRET)
    await h.telegram.waitForCall('answerCallbackQuery', (c) => c.params.show_alert === true)
    await service.deliver(h.press(confirmId, yes!.callback_data), WEBHOOK_SECRET)
    const done = await h.telegram.waitForCall('editMessageText', (c) => c.params.message_id === confirmId)
    expect(done.params.text).toBe('Forgot all 1 memories about you.')
    await service.deliver(h.text('/memory'), WEBHOOK_SECRET)
    await waitUntil(() => h.telegram.sentTexts(USER_ID).find((t) => t.startsWith('I remember nothing about you')), 'an empty memory')
  })
})
