import { describe, expect, test } from 'vitest'
import { toModelError } from '../../../agents/model.ts'
import { describeModelError } from '../../../bot/model-errors.ts'

describe('toModelError', () => {
  test.each([
    [Object.assign(new Error('Request timed out.'), { name: 'APIConnectionTimeoutError' }), 'timeout'],
    [Object.assign(new Error('rate'), { status: 429 }), 'rate_limited'],
    [Object.assign(new Error('bad gateway'), { status: 502 }), 'unavailable'],
    [Object.assign(new Error('no such model'), { status: 404 }), 'rejected'],
    [new SyntaxError('Unexpected end of JSON input'), 'bad_output'],
    [new Error('socket hang up'), 'unavailable'],
  ])('classifies %s as %s', (err, kind) => {
    const e = toModelError(err)
    expect(e.kind).toBe(kind)
    expect(e.cause).toBe(err)
    expect(describeModelError(e)).toMatch(/^[A-Z].+\.$/)
  })
})
