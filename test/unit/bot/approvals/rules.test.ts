import { AIMessage, HumanMessage } from '@langchain/core/messages'
import { END } from '@langchain/langgraph'
import { describe, expect, test } from 'vitest'
import { z } from 'zod'
import { canDecide } from '../../../../services/approvals.ts'
import { approvalButtons, approvalKeyboard, approvalText, outcomeLine } from '../../../../bot/approvals/message.ts'
import { InvalidDecisionError, validateDecision } from '../../../../graph/approval.ts'
import type { ApprovalRequest } from '../../../../domain/approvals.ts'
import { routeAfterAgent } from '../../../../graph/chat-graph.ts'
import { defineTool } from '../../../../agents/tools/tool.ts'
import { parseTelegramHtml } from '../../../support/telegram-html.ts'
import type { TelegramEntity } from '../../../support/telegram-html.ts'

/** What Telegram shows for our HTML, failing the test when Telegram would refuse it or drop part of it. */
function shown(text: string): { text: string; entities: TelegramEntity[] } {
  const parsed = parseTelegramHtml(text, { strict: true })
  if ('error' in parsed) throw new Error(`${parsed.error}\nin: ${text}`)
  return parsed
}
/** The parts of the shown text that carry an entity of `type`. */
const marked = (text: string, type: string) => {
  const s = shown(text)
  return s.entities.filter((e) => e.type === type).map((e) => s.text.slice(e.offset, e.offset + e.length))
}

const request: ApprovalRequest = { toolCallId: 'c1', type: 'tool', tool: 'note', args: { text: 'a' }, description: 'd', editableArg: 'text' }
const tool = defineTool({ name: 'note', description: 'd', schema: z.object({ text: z.string().min(1) }), run: async () => 'ok' })

describe('callback data', () => {
  test('carries only an id and a button, and anything else is refused', () => {
    expect(approvalButtons.decode('ap:abcdefghijkl:a')).toEqual({ id: 'abcdefghijkl', action: 'approve' })
    expect(approvalButtons.decode('ap:abcdefghijkl:e')).toEqual({ id: 'abcdefghijkl', action: 'edit' })
    for (const bad of [undefined, '', 'ap:short:a', 'ap:abcdefghijkl:x', 'ap:abcdefghijkl:a:extra', "ap:abc'; drop:a", 'xx:abcdefghijkl:a']) {
      expect(approvalButtons.decode(bad)).toBeUndefined()
    }
  })

  test('the keyboard offers Edit only when the tool has an editable argument, and "for this conversation" only for tool calls', () => {
    const payload = { tool: 't', args: {}, description: 'd' }
    const labels = (k: ReturnType<typeof approvalKeyboard>) => k.inline_keyboard.map((row) => row.map((b) => b.text))
    const id = 'abcdefghijkl'
    expect(labels(approvalKeyboard({ id, payload, type: 'tool', taskId: null }))).toEqual([['Approve', 'Reject'], ['Allow for this conversation']])
    expect(labels(approvalKeyboard({ id, payload: { ...payload, args: { target: 'main' } }, type: 'push', taskId: 'task1' }))).toEqual([['Push', 'Discard']])
    expect(labels(approvalKeyboard({ id, payload: { ...payload, editableArg: 'x' }, type: 'plan', taskId: null }))).toEqual([['Approve', 'Reject', 'Edit']])
    expect(approvalButtons.decode(approvalButtons.encode({ id, action: 'allow' }))).toEqual({ id, action: 'allow' })
  })

  test("a task's change offers the ways it may go: Push, Open PR, or both; the question and the outcome say which", () => {
    const labels = (k: ReturnType<typeof approvalKeyboard>) => k.inline_keyboard.map((row) => row.map((b) => b.text))
    const id = 'abcdefghijkl'
    const push = (args: Record<string, unknown>) => ({ id, type: 'push' as const, taskId: 'task1', requesterId: 7, expiresAt: new Date('2026-12-01T10:00:00Z'), payload: { tool: 'push', args, description: 'd' } })
    const prOnly = push({ branch: 'mechanic/task1', pullRequestInto: 'main' })
    const both = push({ branch: 'mechanic/task1', target: 'release', pullRequestInto: 'main' })
    expect(labels(approvalKeyboard(prOnly))).toEqual([['Open PR', 'Discard']])
    expect(labels(approvalKeyboard(both))).toEqual([['Push', 'Open PR', 'Discard']])
    expect(approvalKeyboard(prOnly).inline_keyboard[0]?.map((b) => ('callback_data' in b ? b.callback_data : ''))).toEqual([`ap:${id}:p`, `ap:${id}:r`])
    expect(approvalButtons.decode(`ap:${id}:p`)).toEqual({ id, action: 'pr' })
    expect(shown(approvalText(prOnly, 'Ada').html).text).toContain('Open a pull request for the change of task task1 into main? Discard deletes it.')
    expect(shown(approvalText(both, 'Ada').html).text).toContain('Push the change of task task1 to release, or open a pull request into main? Discard deletes it.')
    const decided = { status: 'approved' as const, resolvedAt: new Date('2026-12-01T09:00:00Z'), decision: { type: 'approve' }, type: 'push' as const }
    expect(shown(outcomeLine({ ...decided, route: 'pr' }, 'Ada').html).text).toBe('Pull request approved by Ada at 2026-12-01 09:00 UTC')
    expect(shown(outcomeLine({ ...decided, route: 'push' }, 'Ada').html).text).toBe('Push approved by Ada at 2026-12-01 09:00 UTC')
  })
})

describe('who may decide', () => {
  test('the requester and admins, nobody else', () => {
    expect(canDecide(1, { requesterId: 1 }, false)).toBe(true)
    expect(canDecide(2, { requesterId: 1 }, true)).toBe(true)
    expect(canDecide(2, { requesterId: 1 }, false)).toBe(false)
  })
})

describe('validateDecision', () => {
  test('accepts approve, reject with a message, and an edit whose arguments fit the tool', () => {
    expect(validateDecision({ type: 'approve' }, request, tool)).toEqual({ type: 'approve' })
    expect(validateDecision({ type: 'reject', message: 'no' }, request, tool)).toEqual({ type: 'reject', message: 'no' })
    expect(validateDecision({ type: 'edit', args: { text: 'b' } }, request, tool)).toEqual({ type: 'edit', args: { text: 'b' } })
  })

  test.each([
    ['nothing', undefined],
    ['an unknown type', { type: 'maybe' }],
    ['a reject without message', { type: 'reject' }],
    ['an edit without args', { type: 'edit' }],
    ['an edit whose args do not fit', { type: 'edit', args: { text: '' } }],
  ])('refuses %s before it can reach a thread', (_, value) => {
    expect(() => validateDecision(value, request, tool)).toThrow(InvalidDecisionError)
  })

  test('refuses an edit of a tool without an editable argument', () => {
    expect(() => validateDecision({ type: 'edit', args: { text: 'b' } }, { ...request, editableArg: undefined }, tool)).toThrow(/cannot be edited/)
  })
})

describe('routeAfterAgent', () => {
  const call = (name: string, id: string) => new AIMessage({ content: '', tool_calls: [{ id, name, args: {} }] })
  const needs = (name: string) => name === 'risky'
  test('asks for a decision first, runs tools once decided, ends without tool calls', () => {
    expect(routeAfterAgent({ messages: [new HumanMessage('x'), new AIMessage('hi')], decisions: {} }, needs)).toBe(END)
    expect(routeAfterAgent({ messages: [call('risky', 'c1')], decisions: {} }, needs)).toBe('review')
    expect(routeAfterAgent({ messages: [call('risky', 'c1')], decisions: { c1: { type: 'approve' } } }, needs)).toBe('tools')
    expect(routeAfterAgent({ messages: [call('safe', 'c1')], decisions: {} }, needs)).toBe('tools')
  })
})

describe('the approval message', () => {
  const expiresAt = new Date('2026-11-21T10:05:00Z')
  const row = (extra: object = {}) => ({
    type: 'tool' as const,
    requesterId: 7,
    expiresAt,
    payload: { tool: 'append_to_file', args: { text: 'buy <b>milk</b> & "eggs"', count: 2 }, description: 'Append a line to the notes file: "a < b & c"' },
    ...extra,
  })

  test('says what, with the type and tool in bold and the arguments as code; who asked and until when', () => {
    const text = approvalText(row(), 'Ann').html
    expect(text).toBe(
      '<b>Approval needed (tool)</b>\nAppend a line to the notes file: &quot;a &lt; b &amp; c&quot;\n\nTool: <b>append_to_file</b>\n' +
        'text: <code>buy &lt;b&gt;milk&lt;/b&gt; &amp; &quot;eggs&quot;</code>\ncount: <code>2</code>\n\nAsked by: Ann (<code>7</code>)\nExpires: 2026-11-21 10:05 UTC',
    )
    expect(shown(text).text).toBe(
      'Approval needed (tool)\nAppend a line to the notes file: "a < b & c"\n\nTool: append_to_file\ntext: buy <b>milk</b> & "eggs"\ncount: 2\n\nAsked by: Ann (7)\nExpires: 2026-11-21 10:05 UTC',
    )
    expect(marked(text, 'code')).toEqual(['buy <b>milk</b> & "eggs"', '2', '7'])
  })

  test('a push names the task and the target branch as code; a multi-line argument is a code block; a name that is the id is not repeated', () => {
    const push = approvalText(row({ type: 'push', taskId: 'abc', payload: { tool: 'push', args: { branch: 'mechanic/abc', target: 'main' }, description: '' } }), '7').html
    expect(shown(push).text).toMatch(/^Approval needed \(push\)\nPush the change of task abc to main\? Discard deletes it\.\n\nTool: push\nbranch: mechanic\/abc\ntarget: main\n\nAsked by: 7\n/)
    expect(marked(push, 'code')).toEqual(['abc', 'main', 'mechanic/abc', 'main'])
    const lines = approvalText(row({ payload: { tool: 'write', args: { text: 'one\n<two>' }, description: 'd' } }), '<Ann>').html
    expect(marked(lines, 'pre')).toEqual(['one\n<two>'])
    expect(shown(lines).text).toContain('Asked by: <Ann> (7)')
  })
})

describe('outcomeLine', () => {
  const at = new Date('2026-11-21T10:05:00Z')
  const line = (...args: Parameters<typeof outcomeLine>) => outcomeLine(...args).html
  test('says what was decided, by whom and when, in bold', () => {
    expect(line({ status: 'approved', resolvedAt: at, decision: { type: 'approve' }, type: 'tool' }, 'Ada')).toBe('<b>Approved by Ada at 2026-11-21 10:05 UTC</b>')
    expect(line({ status: 'approved', resolvedAt: at, decision: { type: 'approve' }, type: 'push' }, 'Ada')).toBe('<b>Push approved by Ada at 2026-11-21 10:05 UTC</b>')
    expect(line({ status: 'rejected', resolvedAt: at, decision: { type: 'reject' }, type: 'push' }, 'Ada')).toBe('<b>Discarded by Ada at 2026-11-21 10:05 UTC</b>')
    expect(line({ status: 'approved', resolvedAt: at, decision: { type: 'edit' }, type: 'plan' }, 'Ada')).toBe('<b>Approved (with changes) by Ada at 2026-11-21 10:05 UTC</b>')
    expect(line({ status: 'timeout', resolvedAt: at, decision: null, type: 'tool' }, undefined)).toBe('<b>Expired without a decision at 2026-11-21 10:05 UTC</b>')
  })

  test("the decider's name is escaped", () => {
    const text = line({ status: 'rejected', resolvedAt: at, decision: { type: 'reject' }, type: 'tool' }, 'Bob <script>&')
    expect(text).toBe('<b>Rejected by Bob &lt;script&gt;&amp; at 2026-11-21 10:05 UTC</b>')
    expect(shown(text).text).toBe('Rejected by Bob <script>& at 2026-11-21 10:05 UTC')
  })
})
