import { Writable } from 'node:stream'
import { describe, expect, test } from 'vitest'
import { createLogger, createScrubber } from '../../logger.ts'

describe('createScrubber', () => {
  const scrub = createScrubber(['my-configured-secret'])

  test('replaces configured secret values wherever they appear', () => {
    expect(scrub('url=https://x/my-configured-secret/y')).toBe('url=https://x/[redacted]/y')
  })

  test('replaces secret-shaped strings it was not told about', () => {
    // Assembled here so that no token-shaped literal sits in the repository.
    const madeUpToken = `${'9'.repeat(9)}:${'Ab1_'.repeat(9)}`
    expect(scrub(`token ${madeUpToken} here`)).toBe('token [redacted] here')
    expect(scrub('key=sk-or-v1-0123456789abcdef0123')).toBe('key=[redacted]')
    expect(scrub('postgres://neondb_owner:npg_Secret123@ep-x.neon.tech/db')).toBe('postgres://neondb_owner:[redacted]@ep-x.neon.tech/db')
  })

  test('leaves ordinary text alone', () => {
    expect(scrub('chat 123456 said hello: sk-short')).toBe('chat 123456 said hello: sk-short')
  })
})

describe('createLogger', () => {
  test('writes JSON lines with secrets removed by path and by value', async () => {
    const lines: string[] = []
    const destination = new Writable({ write: (chunk: Buffer, _enc, done) => (lines.push(chunk.toString()), done()) })
    const log = createLogger({ level: 'info', secrets: ['value-of-the-token'], destination })
    log.info({ token: 'anything', nested: { apiKey: 'k1' }, note: 'see value-of-the-token' }, 'hello')
    await new Promise((r) => setImmediate(r))
    const entry = JSON.parse(lines.join('')) as Record<string, unknown>
    expect(entry).toMatchObject({ msg: 'hello', token: '[redacted]', nested: { apiKey: '[redacted]' }, note: 'see [redacted]' })
  })
})
