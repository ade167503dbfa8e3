import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import pg from 'pg'
import { afterEach, beforeEach, describe, expect, test } from 'vitest'
import { ADMIN_ID, Harness, USER_ID, WEBHOOK_SECRET } from '../support/harness.ts'
import { sleep, waitUntil } from '../support/http.ts'
import { lastUserText } from '../support/openai-emulator.ts'
import type { ChatRequest, ModelTurn } from '../support/openai-emulator.ts'
import type { ServiceProcess } from '../support/service.ts'

let h: Harness
let service: ServiceProcess
let notes: string

/** The model: "note X" → a call of the risky tool; after a tool result → a follow-up; else echo. */
function agentModel(req: ChatRequest): ModelTurn {
  const last = req.messages.at(-1)
  if (last?.role === 'tool') return { content: `after tool: ${String(last.content)}` }
  const text = lastUserText(req)
  const note = /^note (.+)$/.exec(text)
  return note ? { toolCalls: [{ name: 'append_to_file', args: { text: note[1] } }] } : { content: `echo: ${text}` }
}

async function start(env: Record<string, string> = {}) {
  h.openai.respondWith(agentModel)
  service = await h.startService({ TEST_TOOL_FILE: notes, ...env })
}

beforeEach(async () => {
  h = await Harness.create()
  notes = join(h.db.dataDir, 'notes.txt')
})
afterEach(() => h.closeAndCheckLogs())

const written = () => (existsSync(notes) ? readFileSync(notes, 'utf8') : '')

/** Waits for the `n`th approval message in a chat and returns its id, the text the person sees (formatting parsed away) and its buttons. */
async function approvalMessage(chatId = USER_ID, n = 1) {
  const message = await h.telegram.waitForButtons(chatId, n)
  const sent = h.telegram.callsOf('sendMessage').find((c) => (c.result as { message_id?: number } | undefined)?.message_id === message.messageId)
  return { ...message, text: sent?.shown?.text ?? '', entities: sent?.shown?.entities ?? [] }
}

const edits = (messageId: number) => h.telegram.callsOf('editMessageText').filter((c) => c.params.message_id === messageId)
const alerts = () => h.telegram.callsOf('answerCallbackQuery').filter((c) => c.params.show_alert === true).map((c) => String(c.params.text))

async function ask(text = 'note buy milk') {
  await service.deliver(h.text(text), WEBHOOK_SECRET)
  return approvalMessage()
}

describe('approvals through inline buttons, end to end', () => {
  test('approve: the message says what, who and until when; the tool runs only after the press; the message shows the outcome', async () => {
    await start()
    const approval = await ask()
    expect(approval.text).toMatch(/Approval needed \(tool\)\nAppend a line to the notes file: "buy milk"/)
    expect(approval.text).toMatch(/text: buy milk/)
    expect(approval.text).toMatch(/Asked by: Tester \(2000\)/)
    expect(approval.text).toMatch(/Expires: \d{4}-\d\d-\d\d \d\d:\d\d UTC/)
    const formatted = approval.entities.map((e) => [e.type, approval.text.slice(e.offset, e.offset + e.length)])
    expect(formatted).toEqual(expect.arrayContaining([['bold', 'Approval needed (tool)'], ['bold', 'append_to_file'], ['code', 'buy milk']]))
    expect(Object.keys(approval.buttons)).toEqual(['Approve', 'Reject', 'Edit', 'Allow for this conversation'])
    for (const data of Object.values(approval.buttons)) expect(Buffer.byteLength(data)).toBeLessThanOrEqual(64)
    await sleep(500)
    expect(written()).toBe('') // nothing happens without a decision

    await service.deliver(h.press(approval.messageId, approval.buttons.Approve!), WEBHOOK_SECRET)
    expect(await h.telegram.waitForTexts(USER_ID, 2)).toContain('[assistant] after tool: Appended: buy milk')
    expect(written()).toBe('buy milk\n')
    expect(h.telegram.callsOf('answerCallbackQuery')[0]?.params).toMatchObject({ text: 'Approved' })
    const [edit] = edits(approval.messageId)
    expect(edit?.shown?.text).toMatch(/Approved by User2000 at \d{4}-\d\d-\d\d \d\d:\d\d UTC$/)
    expect(edit?.params.reply_markup).toBeUndefined() // buttons removed
    if (h.db.url) {
      const client = new pg.Client({ connectionString: h.db.url })
      await client.connect()
      const { rows } = await client.query(`select action, actor_id::int as "actorId", detail->>'status' as status from audit_log where action = 'approval_decided'`)
      await client.end()
      expect(rows).toEqual([{ action: 'approval_decided', actorId: USER_ID, status: 'approved' }])
    }
  })

  test('reject: the tool never runs and the agent is told', async () => {
    await start()
    const approval = await ask()
    await service.deliver(h.press(approval.messageId, approval.buttons.Reject!), WEBHOOK_SECRET)
    const texts = await h.telegram.waitForTexts(USER_ID, 2)
    expect(texts[1]).toMatch(/^\[assistant\] after tool: The person did not approve this action, so it was not done\. Rejected by User2000\./)
    expect(edits(approval.messageId)[0]?.shown?.text).toMatch(/Rejected by User2000/)
    expect(written()).toBe('')
  })

  test('edit: a reply to the ForceReply prompt runs the tool with the changed argument', async () => {
    await start()
    const approval = await ask()
    await service.deliver(h.press(approval.messageId, approval.buttons.Edit!), WEBHOOK_SECRET)
    const prompt = await h.telegram.waitForCall('sendMessage', (c) => (c.params.reply_markup as { force_reply?: boolean } | undefined)?.force_reply === true)
    expect(prompt.shown?.text).toMatch(/new text for append_to_file/)
    const promptId = (prompt.result as { message_id: number }).message_id
    await service.deliver(h.text('buy oat milk', { replyTo: promptId }), WEBHOOK_SECRET)
    await waitUntil(() => h.telegram.sentTexts(USER_ID).includes('[assistant] after tool: Appended: buy oat milk'), 'the follow-up')
    expect(written()).toBe('buy oat milk\n')
    expect(edits(approval.messageId)[0]?.shown?.text).toMatch(/Approved \(with changes\) by Tester at /) // the reply's sender
  })

  test('someone else pressing gets an alert and nothing changes; an admin may decide', async () => {
    await start()
    const approval = await ask()
    await service.deliver(h.press(approval.messageId, approval.buttons.Approve!, { userId: 2001 }), WEBHOOK_SECRET)
    await waitUntil(() => alerts().length === 1, 'the alert')
    expect(alerts()[0]).toBe('Only the person who asked, or an admin, can decide this.')
    await sleep(300)
    expect(written()).toBe('')
    expect(edits(approval.messageId)).toHaveLength(0)
    await service.deliver(h.press(approval.messageId, approval.buttons.Approve!, { userId: ADMIN_ID }), WEBHOOK_SECRET)
    await waitUntil(() => written() === 'buy milk\n', 'the tool to run')
    expect((await waitUntil(() => edits(approval.messageId)[0], 'the edit')).shown?.text).toMatch(/Approved by User1000/)
  })

  test('a double press yields one decision; the second press is told and its buttons removed', async () => {
    await start()
    const approval = await ask()
    await service.deliver(h.press(approval.messageId, approval.buttons.Approve!), WEBHOOK_SECRET)
    await service.deliver(h.press(approval.messageId, approval.buttons.Reject!), WEBHOOK_SECRET)
    await waitUntil(() => alerts().length === 1, 'the second press to be answered')
    expect(alerts()[0]).toBe('This request was already approved.')
    // The press is answered first, its buttons removed right after.
    await waitUntil(() => h.telegram.callsOf('editMessageReplyMarkup').length >= 1, 'the buttons to be removed')
    expect(h.telegram.callsOf('editMessageReplyMarkup')).toHaveLength(1)
    expect(written()).toBe('buy milk\n')
    expect(edits(approval.messageId)).toHaveLength(1)
  })

  test('two presses at once from two chats (the requester, and an admin via /approvals) yield exactly one decision', async () => {
    await start()
    const approval = await ask()
    await service.deliver(h.text('/approvals', { userId: ADMIN_ID }), WEBHOOK_SECRET)
    const copy = await approvalMessage(ADMIN_ID)
    expect(copy.text).toMatch(/Chat: 2000/)
    await Promise.all([
      service.deliver(h.press(approval.messageId, approval.buttons.Approve!), WEBHOOK_SECRET),
      service.deliver(h.press(copy.messageId, copy.buttons.Reject!, { chatId: ADMIN_ID, userId: ADMIN_ID }), WEBHOOK_SECRET),
    ])
    await waitUntil(() => h.telegram.callsOf('answerCallbackQuery').length === 2, 'both presses answered')
    await waitUntil(() => h.telegram.sentTexts(USER_ID).some((t) => t.startsWith('[assistant] after tool:')), 'the follow-up')
    await sleep(500)
    const followUps = h.telegram.sentTexts(USER_ID).filter((t) => t.startsWith('[assistant] after tool:'))
    expect(followUps).toHaveLength(1)
    expect(alerts()).toHaveLength(1)
    expect(alerts()[0]).toMatch(/^This request was already (approved|rejected)\.$/)
    expect(written()).toBe(followUps[0]!.includes('Appended') ? 'buy milk\n' : '')
  })

  test('expiry: the scheduler marks it expired, edits the message and resumes the thread with a rejection', async () => {
    await start({ APPROVAL_TIMEOUT_MINUTES: '0.03', APPROVAL_SWEEP_SECONDS: '0.5' })
    const approval = await ask()
    const edit = await waitUntil(() => edits(approval.messageId)[0], 'the expiry edit', 15_000)
    expect(edit.shown?.text).toMatch(/Expired without a decision at /)
    await waitUntil(() => h.telegram.sentTexts(USER_ID).some((t) => /^\[assistant\] after tool: .*expired without a decision/.test(t)), 'the follow-up')
    await service.deliver(h.press(approval.messageId, approval.buttons.Approve!), WEBHOOK_SECRET)
    await waitUntil(() => alerts().length === 1, 'the late press to be answered')
    expect(alerts()[0]).toBe('This request was already expired without a decision.')
    expect(written()).toBe('')
  })

  test('a restart between the request and the press resumes the same thread from its checkpoint', async () => {
    await start()
    const approval = await ask()
    expect(await service.stop()).toEqual({ code: 0, signal: null })
    service = await h.startService({ TEST_TOOL_FILE: notes })
    await service.deliver(h.press(approval.messageId, approval.buttons.Approve!), WEBHOOK_SECRET)
    await waitUntil(() => h.telegram.sentTexts(USER_ID).includes('[assistant] after tool: Appended: buy milk'), 'the follow-up after the restart')
    expect(written()).toBe('buy milk\n')
  })

  test('a stale or forged button gets an alert, its buttons removed, and nothing runs', async () => {
    await start()
    await service.deliver(h.press(1, 'ap:AAAAAAAAAAAA:a'), WEBHOOK_SECRET)
    await service.deliver(h.press(1, 'ap:../../etc:a'), WEBHOOK_SECRET)
    await waitUntil(() => alerts().length === 2, 'both alerts')
    expect(alerts()).toEqual(['This request is unknown. Nothing was done.', 'This request is unknown. Nothing was done.'])
    await waitUntil(() => h.telegram.callsOf('editMessageReplyMarkup').length >= 2, 'the buttons to be removed')
    expect(h.telegram.callsOf('editMessageReplyMarkup')).toHaveLength(2)
    expect(h.openai.requests).toHaveLength(0)
  })

  test('a new message while an approval is pending is answered beside the thread; the approval stays pending and still works', async () => {
    await start()
    const approval = await ask()
    await service.deliver(h.text('what is the weather?'), WEBHOOK_SECRET)
    await waitUntil(() => h.telegram.sentTexts(USER_ID).includes('[assistant] echo: what is the weather?'), 'the aside answer')
    const aside = h.openai.requests.at(-1)!
    expect(aside.messages.some((m) => m.role === 'assistant' && m.tool_calls)).toBe(false) // no dangling tool call sent
    expect(JSON.stringify(aside.messages)).toMatch(/waiting for the person's decision/)
    await service.deliver(h.press(approval.messageId, approval.buttons.Approve!), WEBHOOK_SECRET)
    await waitUntil(() => written() === 'buy milk\n', 'the tool to run')
    await service.deliver(h.text('thanks'), WEBHOOK_SECRET)
    await waitUntil(() => h.telegram.sentTexts(USER_ID).includes('[assistant] echo: thanks'), 'a normal turn after')
  })

  test('/cancel cancels the pending request: message edited, tool not run, agent told', async () => {
    await start()
    const approval = await ask()
    await service.deliver(h.text('/cancel'), WEBHOOK_SECRET)
    await waitUntil(() => edits(approval.messageId)[0], 'the cancel edit')
    expect(edits(approval.messageId)[0]?.shown?.text).toMatch(/Cancelled by Tester/)
    await waitUntil(() => h.telegram.sentTexts(USER_ID).some((t) => /cancelled this request/.test(t)), 'the follow-up')
    expect(written()).toBe('')
  })

  test('/approvals is for admins only', async () => {
    await start()
    await service.deliver(h.text('/approvals'), WEBHOOK_SECRET)
    expect(await h.telegram.waitForTexts(USER_ID, 1)).toEqual(['That command is for admins only.'])
  })
})
