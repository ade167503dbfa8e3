import { describe, expect, test } from 'vitest'
import { splitMessage } from '../../../bot/split-message.ts'

describe('splitMessage', () => {
  test('keeps a short text whole', () => {
    expect(splitMessage('hello')).toEqual(['hello'])
  })

  test('splits at paragraph breaks first and loses no words', () => {
    const paragraphs = Array.from({ length: 10 }, (_, i) => `Paragraph ${i}: ${'word '.repeat(60).trim()}`)
    const parts = splitMessage(paragraphs.join('\n\n'), 1000)
    expect(parts.every((p) => p.length <= 1000)).toBe(true)
    expect(parts.every((p) => p.startsWith('Paragraph'))).toBe(true)
    expect(parts.join('\n\n')).toBe(paragraphs.join('\n\n'))
  })

  test('falls back to line breaks, then spaces, then a hard cut', () => {
    const lines = Array.from({ length: 50 }, (_, i) => `line ${i}`).join('\n')
    for (const p of splitMessage(lines, 60)) expect(p.length).toBeLessThanOrEqual(60)
    const words = 'abc '.repeat(100)
    expect(splitMessage(words, 50).every((p) => p.length <= 50 && !p.startsWith(' '))).toBe(true)
    const solid = 'x'.repeat(250)
    expect(splitMessage(solid, 100).join('')).toBe(solid)
  })

  test('never cuts a surrogate pair in half', () => {
    const emoji = '😀'.repeat(100) // 200 UTF-16 units
    const parts = splitMessage(emoji, 51)
    expect(parts.join('')).toBe(emoji)
    for (const p of parts) expect(p).not.toMatch(/[\ud800-\udbff]$|^[\udc00-\udfff]/)
  })

  test('closes and reopens a code block that spans two parts', () => {
    const code = Array.from({ length: 40 }, (_, i) => `console.log(${i})`).join('\n')
    const parts = splitMessage(`Here:\n\n\`\`\`ts\n${code}\n\`\`\`\n\nDone.`, 300)
    expect(parts.length).toBeGreaterThan(1)
    for (const p of parts) {
      expect(p.length).toBeLessThanOrEqual(300)
      expect((p.match(/^```/gm) ?? []).length % 2).toBe(0) // every part's fences are balanced
    }
    expect(parts[1]).toMatch(/^```ts\n/)
  })
})
