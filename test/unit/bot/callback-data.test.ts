import { describe, expect, test } from 'vitest'
import { approvalButtons } from '../../../bot/approvals/message.ts'
import { CALLBACK_DATA_LIMIT, CallbackDataTooLongError, buttonCodec } from '../../../bot/callback-data.ts'
import { agentButtons } from '../../../bot/features/agents.ts'
import { memoryButtons } from '../../../bot/features/memory.ts'
import { scheduleButtons } from '../../../bot/features/schedules.ts'
import { wizardButtons } from '../../../bot/features/wizards.ts'
import { newApprovalId } from '../../../db/approvals.ts'
import { newScheduleId } from '../../../db/schedules.ts'

const bytes = (s: string) => Buffer.byteLength(s, 'utf8')
const families = [approvalButtons, agentButtons, memoryButtons, wizardButtons, scheduleButtons]

describe('button codecs', () => {
  test('the largest value of every family fits in 64 bytes and decodes to itself', () => {
    const largest = [
      [approvalButtons, { id: newApprovalId(), action: 'approve' }],
      [approvalButtons, { id: '_-zZ09abcdef', action: 'edit' }],
      [agentButtons, { use: `a${'z'.repeat(31)}` }],
      [memoryButtons, { action: 'forget', id: Number.MAX_SAFE_INTEGER, page: 999_999 }],
      [memoryButtons, { action: 'page', page: 999_999 }],
      [memoryButtons, { action: 'forgetAll', userId: 9_999_999_999_999 }],
      [memoryButtons, { action: 'keep', userId: 1 }],
      [wizardButtons, 'default'],
      [approvalButtons, { id: newApprovalId(), action: 'allow' }],
      [scheduleButtons, { id: newScheduleId(), action: 'resume' }],
      [scheduleButtons, { id: '_-zZ09abcdef', action: 'delete' }],
    ] as const
    for (const [codec, value] of largest) {
      const data = (codec.encode as (v: unknown) => string)(value)
      expect(bytes(data), data).toBeLessThanOrEqual(CALLBACK_DATA_LIMIT)
      expect(codec.decode(data)).toEqual(value)
      expect(codec.owns(data)).toBe(true)
    }
  })

  test('families never claim each other’s data', () => {
    const samples = [approvalButtons.encode({ id: 'abcdefghijkl', action: 'reject' }), agentButtons.encode({ use: 'poet' }), memoryButtons.encode({ action: 'page', page: 2 }), wizardButtons.encode('yes')]
    samples.forEach((data, i) => families.forEach((codec, j) => expect(codec.owns(data)).toBe(i === j)))
  })

  test('malformed, forged or oversized data decodes to nothing instead of throwing', () => {
    const bad = [
      undefined,
      '',
      'ap',
      'ap:',
      'ap:short:a',
      'ap:abcdefghijkl:x',
      'ap:abcdefghijkl:a:extra',
      "ap:abc'; drop:a",
      'ag:use:',
      'ag:use:UPPER',
      'ag:use:x',
      'ag:drop:poet',
      'ag:use:poet:more',
      'mem:f:12',
      'mem:f:12:x',
      'mem:p:-1',
      'mem:p:1:2',
      'mem:x:',
      'mem:z:1',
      `mem:f:${'9'.repeat(17)}:0`,
      'wz:maybe',
      'wz:yes:no',
      `wz:${'y'.repeat(70)}`,
    ]
    for (const data of bad) for (const codec of families) expect(codec.decode(data), String(data)).toBeUndefined()
  })

  test('a codec refuses to build data Telegram would reject', () => {
    const wide = buttonCodec<string>('wide', { encode: (s) => [s], decode: ([s]) => s })
    expect(wide.encode('x'.repeat(CALLBACK_DATA_LIMIT - 5))).toHaveLength(CALLBACK_DATA_LIMIT)
    expect(() => wide.encode('x'.repeat(CALLBACK_DATA_LIMIT - 4))).toThrow(CallbackDataTooLongError)
    expect(() => wide.encode('é'.repeat(30))).toThrow(CallbackDataTooLongError) // bytes, not characters
  })
})
