import { AIMessage, HumanMessage } from '@langchain/core/messages'
import { END } from '@langchain/langgraph'
import { describe, expect, test } from 'vitest'
import { z } from 'zod'
import { canDecide } from '../../../../services/approvals.ts'
import { approvalButtons, approvalKeyboard, outcomeLine } from '../../../../bot/approvals/message.ts'
import { InvalidDecisionError, validateDecision } from '../../../../graph/approval.ts'
import type { ApprovalRequest } from '../../../../domain/approvals.ts'
import { routeAfterAgent } from '../../../../graph/chat-graph.ts'
import { defineTool } from '../../../../agents/tools/tool.ts'

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

  test('the keyboard offers Edit only when the tool has an editable argument', () => {
    const payload = { tool: 't', args: {}, description: 'd' }
    const labels = (k: ReturnType<typeof approvalKeyboard>) => k.inline_keyboard.flat().map((b) => b.text)
    expect(labels(approvalKeyboard({ id: 'abcdefghijkl', payload, type: 'tool' }))).toEqual(['Approve', 'Reject'])
    expect(labels(approvalKeyboard({ id: 'abcdefghijkl', payload, type: 'push' }))).toEqual(['Push', 'Discard'])
    expect(labels(approvalKeyboard({ id: 'abcdefghijkl', payload: { ...payload, editableArg: 'x' }, type: 'plan' }))).toEqual(['Approve', 'Reject', 'Edit'])
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

describe('outcomeLine', () => {
  const at = new Date('2026-11-21T10:05:00Z')
  test('says what was decided, by whom and when', () => {
    expect(outcomeLine({ status: 'approved', resolvedAt: at, decision: { type: 'approve' }, type: 'tool' }, 'Ada')).toBe('Approved by Ada at 2026-11-21 10:05 UTC')
    expect(outcomeLine({ status: 'approved', resolvedAt: at, decision: { type: 'approve' }, type: 'push' }, 'Ada')).toBe('Push approved by Ada at 2026-11-21 10:05 UTC')
    expect(outcomeLine({ status: 'rejected', resolvedAt: at, decision: { type: 'reject' }, type: 'push' }, 'Ada')).toBe('Discarded by Ada at 2026-11-21 10:05 UTC')
    expect(outcomeLine({ status: 'approved', resolvedAt: at, decision: { type: 'edit' }, type: 'plan' }, 'Ada')).toBe('Approved (with changes) by Ada at 2026-11-21 10:05 UTC')
    expect(outcomeLine({ status: 'timeout', resolvedAt: at, decision: null, type: 'tool' }, undefined)).toBe('Expired without a decision at 2026-11-21 10:05 UTC')
  })
})
