import { describe, expect, test } from 'vitest'
import { Sandbox } from '../../../sandbox/sandbox.ts'
import { documentKind, pdfOutcome, pdfReaderPolicy, readDocument } from '../../../services/documents.ts'
import type { DocumentReading } from '../../../services/documents.ts'
import { makePdf } from '../../support/pdf.ts'

// PDFs are read by the real child process; the sandbox is off here (prlimit only), the integration
// tests read them in bubblewrap.
const sandbox = new Sandbox({ mode: 'off', protect: [], path: process.env.PATH })
const pdf = { sandbox }
const refusal = (r: DocumentReading) => ('refused' in r ? r : { refused: undefined, detail: undefined })

describe('reading a file for the model', () => {
  test('a PDF gives the text of every page (pdf.js through unpdf, in its child process)', async () => {
    const file = makePdf([['Invoice 42', 'Total: 17.50 EUR'], ['Page two (with parentheses)']])
    const read = await readDocument(file, { name: 'invoice.pdf', mime: 'application/pdf' }, 10_000, pdf)
    expect('attachment' in read).toBe(true)
    const a = (read as { attachment: { kind: string; text: string; name: string } }).attachment
    expect(a).toMatchObject({ kind: 'document', name: 'invoice.pdf' })
    for (const words of ['Invoice 42', 'Total: 17.50 EUR', 'Page two (with parentheses)']) expect(a.text).toContain(words)
  })

  test('text, code, JSON and CSV are read as UTF-8; longer text is cut with a note', async () => {
    const code = 'def add(a, b):\n    return a + b  # ünïcode\n'
    expect(await readDocument(Buffer.from(code), { name: 'add.py', mime: 'application/octet-stream' }, 1000, pdf)).toEqual({
      attachment: { kind: 'document', mime: 'application/octet-stream', name: 'add.py', text: code, note: undefined },
    })
    const long = await readDocument(Buffer.from('x'.repeat(50)), { name: 'a.csv', mime: 'text/csv' }, 20, pdf)
    expect(long).toMatchObject({ attachment: { text: 'x'.repeat(20), note: '[The file has 50 characters; only the first 20 are included here.]' } })
    // A cut never splits a surrogate pair.
    const emoji = await readDocument(Buffer.from('ab😀cd'), { name: 'e.txt', mime: 'text/plain' }, 3, pdf)
    expect(emoji).toMatchObject({ attachment: { text: 'ab', note: '[The file has 6 characters; only the first 2 are included here.]' } })
  })

  test('refuses what it cannot read, saying why', async () => {
    expect(await readDocument(Buffer.from([0x50, 0x4b, 3, 4, 0, 0]), { name: 'a.zip', mime: 'application/zip' }, 100, pdf)).toEqual({ refused: 'unsupported' })
    expect(await readDocument(Buffer.from([0xff, 0xfe, 0, 0x41]), { name: 'a.txt', mime: 'text/plain' }, 100, pdf)).toEqual({ refused: 'unreadable' })
    const broken = refusal(await readDocument(Buffer.from('%PDF-1.4 broken'), { name: 'b.pdf', mime: 'application/pdf' }, 100, pdf))
    expect(broken).toEqual({ refused: 'unreadable', detail: 'InvalidPDFException: Invalid PDF structure.' })
    expect(await readDocument(makePdf([[]]), { name: 'scan.pdf', mime: 'application/pdf' }, 100, pdf)).toEqual({ refused: 'no_text' })
    expect(await readDocument(Buffer.from('  \n'), { name: 'e.md', mime: 'text/markdown' }, 100, pdf)).toEqual({ refused: 'no_text' })
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
  test('is given up after the time limit (its reader killed) as too large; with time enough it reads', async () => {
    const file = makePdf(Array.from({ length: 40 }, (_, i) => [`page ${i}`]))
    const started = performance.now()
    expect(await readDocument(file, { name: 'slow.pdf', mime: 'application/pdf' }, 10_000, { sandbox, timeoutMs: 1 })).toEqual({ refused: 'too_large', detail: 'the PDF reader gave no answer within 1 ms' })
    expect(performance.now() - started).toBeLessThan(1000)
    const read = await readDocument(file, { name: 'slow.pdf', mime: 'application/pdf' }, 10_000, pdf)
    expect('attachment' in read && read.attachment.kind === 'document' && read.attachment.text.includes('page 39')).toBe(true)
  })
})

describe("the PDF reader's policy and its end", () => {
  test('node on the child script, only PATH and LANG, nothing writable, /tmp, 2 GiB of address space and 30 s of CPU', () => {
    const policy = pdfReaderPolicy()
    expect(policy.command).toBe(process.execPath)
    expect(policy.args.at(-1)).toMatch(/\/services\/pdf-child\.ts$/)
    expect(policy.args).toContain('--max-old-space-size=256')
    expect(Object.keys(policy.env).sort()).toEqual(['LANG', 'PATH'])
    expect(policy.writable ?? []).toEqual([])
    expect(policy).toMatchObject({ cwd: '/tmp', limits: { addressSpaceBytes: 2 * 1024 ** 3, cpuSeconds: 30 } })
  })

  test('its answer line wins; a signal (or 128 + a signal from bwrap) or a refused allocation is a limit; anything else is unreadable', () => {
    expect(pdfOutcome('{"text":"abc","chars":9}\n', 0, null, '')).toEqual({ text: 'abc', chars: 9 })
    expect(pdfOutcome('{"error":"InvalidPDFException: Invalid PDF structure."}\n', 0, null, '')).toMatchObject({ refused: 'unreadable' })
    expect(pdfOutcome('{"error":"RangeError: Array buffer allocation failed","limit":true}\n', 0, null, '')).toMatchObject({ refused: 'too_large' })
    const fatal = '<--- Last few GCs --->\nFATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory\n 1: 0x931db0  [node]\n'
    expect(pdfOutcome('', null, 'SIGABRT', fatal)).toEqual({ refused: 'too_large', detail: 'the PDF reader was killed by SIGABRT: FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory' })
    expect(pdfOutcome('', 134, null, fatal)).toEqual(pdfOutcome('', null, 'SIGABRT', fatal))
    expect(pdfOutcome('', 137, null, '')).toEqual({ refused: 'too_large', detail: 'the PDF reader was killed by SIGKILL' })
    expect(pdfOutcome('{"text":"ab', 1, null, 'bwrap: Can\'t mount proc\n')).toEqual({ refused: 'unreadable', detail: "the PDF reader exited with code 1 and no answer: bwrap: Can't mount proc" })
  })
})
