import { describe, expect, test } from 'vitest'
import { documentKind, readDocument } from '../../../services/documents.ts'
import { makePdf } from '../../support/pdf.ts'

describe('reading a file for the model', () => {
  test('a PDF gives the text of every page (pdf.js through unpdf)', async () => {
    const pdf = makePdf([['Invoice 42', 'Total: 17.50 EUR'], ['Page two (with parentheses)']])
    const read = await readDocument(pdf, { name: 'invoice.pdf', mime: 'application/pdf' }, 10_000)
    expect('attachment' in read).toBe(true)
    const a = (read as { attachment: { kind: string; text: string; name: string } }).attachment
    expect(a).toMatchObject({ kind: 'document', name: 'invoice.pdf' })
    for (const words of ['Invoice 42', 'Total: 17.50 EUR', 'Page two (with parentheses)']) expect(a.text).toContain(words)
  })

  test('text, code, JSON and CSV are read as UTF-8; longer text is cut with a note', async () => {
    const code = 'def add(a, b):\n    return a + b  # ünïcode\n'
    expect(await readDocument(Buffer.from(code), { name: 'add.py', mime: 'application/octet-stream' }, 1000)).toEqual({
      attachment: { kind: 'document', mime: 'application/octet-stream', name: 'add.py', text: code, note: undefined },
    })
    const long = await readDocument(Buffer.from('x'.repeat(50)), { name: 'a.csv', mime: 'text/csv' }, 20)
    expect(long).toMatchObject({ attachment: { text: 'x'.repeat(20), note: '[The file has 50 characters; only the first 20 are included here.]' } })
  })

  test('refuses what it cannot read, saying why', async () => {
    expect(await readDocument(Buffer.from([0x50, 0x4b, 3, 4, 0, 0]), { name: 'a.zip', mime: 'application/zip' }, 100)).toEqual({ refused: 'unsupported' })
    expect(await readDocument(Buffer.from([0xff, 0xfe, 0, 0x41]), { name: 'a.txt', mime: 'text/plain' }, 100)).toEqual({ refused: 'unreadable' })
    expect(await readDocument(Buffer.from('%PDF-1.4 broken'), { name: 'b.pdf', mime: 'application/pdf' }, 100)).toEqual({ refused: 'unreadable' })
    expect(await readDocument(makePdf([[]]), { name: 'scan.pdf', mime: 'application/pdf' }, 100)).toEqual({ refused: 'no_text' })
    expect(await readDocument(Buffer.from('  \n'), { name: 'e.md', mime: 'text/markdown' }, 100)).toEqual({ refused: 'no_text' })
  })

  test('kinds by MIME type, or by name when Telegram only says octet-stream', () => {
    expect(documentKind('shot.png', 'image/png')).toBe('image')
    expect(documentKind('x.pdf', 'application/octet-stream')).toBe('pdf')
    expect(documentKind('Dockerfile', 'application/octet-stream')).toBe('text')
    expect(documentKind('data.json', 'application/json')).toBe('text')
    expect(documentKind('movie.mp4', 'video/mp4')).toBe('other')
  })
})

describe('a PDF that takes too long', () => {
  test('is given up in its worker thread after the time limit, and called unreadable', async () => {
    const pdf = makePdf(Array.from({ length: 40 }, (_, i) => [`page ${i}`]))
    const started = performance.now()
    expect(await readDocument(pdf, { name: 'slow.pdf', mime: 'application/pdf' }, 10_000, 1)).toEqual({ refused: 'unreadable' })
    expect(performance.now() - started).toBeLessThan(1000)
    // With time enough, the same file reads.
    const read = await readDocument(pdf, { name: 'slow.pdf', mime: 'application/pdf' }, 10_000)
    expect('attachment' in read && read.attachment.kind === 'document' && read.attachment.text.includes('page 39')).toBe(true)
  })
})
