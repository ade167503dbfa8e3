import { beforeAll, describe, expect, test } from 'vitest'
import { Sandbox } from '../../../sandbox/sandbox.ts'
import { PDF_TIMEOUT_MS, pdfReaderPolicy, readDocument } from '../../../services/documents.ts'
import type { DocumentReading } from '../../../services/documents.ts'
import { makeBombPdf, makePdf } from '../../support/pdf.ts'
import { processesBelow } from '../../support/processes.ts'

const MB = 1024 * 1024
const asPdf = { name: 'report.pdf', mime: 'application/pdf' }
const normal = makePdf([['Quarterly report'], ['Revenue grew 12 percent']])
let bomb: Buffer
let heapBomb: Buffer

beforeAll(async () => {
  bomb = await makeBombPdf()
  heapBomb = await makeBombPdf({ fill: 'text' })
})

const refusal = (r: DocumentReading) => ('refused' in r ? r : { refused: undefined, detail: undefined })
const textOf = (r: DocumentReading) => ('attachment' in r && r.attachment.kind === 'document' ? r.attachment.text : undefined)

/** The processes below this one whose command line names the PDF reader (prlimit, bwrap, node), living ones only. */
const readerProcesses = (): number[] => processesBelow(process.pid, (argv) => argv.some((a) => a.includes('pdf-child')))

/** Reads `file`, sampling this process's RSS and the reader's processes while it runs. */
async function watched(read: () => Promise<DocumentReading>) {
  const rssBefore = process.memoryUsage().rss
  let rssPeak = rssBefore
  const seen = new Set<number>()
  const sample = setInterval(() => {
    rssPeak = Math.max(rssPeak, process.memoryUsage().rss)
    for (const pid of readerProcesses()) seen.add(pid)
  }, 20)
  const started = performance.now()
  try {
    const result = await read()
    return { result, ms: performance.now() - started, rssGrowth: rssPeak - rssBefore, readers: [...seen] }
  } finally {
    clearInterval(sample)
  }
}

/** Waits (up to 2 s) until none of `pids` is alive. */
async function gone(pids: readonly number[]): Promise<number[]> {
  for (let i = 0; i < 100; i++) {
    const left = readerProcesses().filter((p) => pids.includes(p))
    if (!left.length) return []
    await new Promise((r) => setTimeout(r, 20))
  }
  return readerProcesses().filter((p) => pids.includes(p))
}

describe('a decompression-bomb PDF, read in bubblewrap with limits', () => {
  test('is refused as too large within the time limit, the service does not grow, and the next PDF is read', async () => {
    const sandbox = new Sandbox({ mode: 'on', protect: [], path: process.env.PATH })
    expect(await sandbox.probe()).toMatchObject({ state: 'on' })
    expect(bomb.length).toBeLessThan(1.5 * MB)
    const run = await watched(() => readDocument(bomb, asPdf, 10_000, { sandbox }))
    expect(refusal(run.result).refused).toBe('too_large')
    expect(refusal(run.result).detail).toMatch(/killed by SIG|allocation/i)
    expect(run.ms).toBeLessThan(PDF_TIMEOUT_MS)
    expect(run.rssGrowth).toBeLessThan(100 * MB)
    // It ran inside the sandbox (bwrap's processes named the reader), and nothing of it is left.
    expect(run.readers.length).toBeGreaterThan(0)
    expect(await gone(run.readers)).toEqual([])
    const next = await readDocument(normal, asPdf, 10_000, { sandbox })
    expect(textOf(next)).toContain('Revenue grew 12 percent')
  })

  test('a bomb that fills the JavaScript heap instead is refused the same way', async () => {
    const sandbox = new Sandbox({ mode: 'on', protect: [], path: process.env.PATH })
    await sandbox.probe()
    const run = await watched(() => readDocument(heapBomb, asPdf, 10_000, { sandbox }))
    expect(run.result).toMatchObject({ refused: 'too_large' })
    expect(run.rssGrowth).toBeLessThan(100 * MB)
  })

  test('with the sandbox off the limits still hold (prlimit alone), and the next PDF is read', async () => {
    const sandbox = new Sandbox({ mode: 'off', protect: [], path: process.env.PATH })
    const launch = sandbox.launch(pdfReaderPolicy())
    expect(launch.sandboxed).toBe(false)
    expect(launch.file).toMatch(/prlimit$/)
    const run = await watched(() => readDocument(bomb, asPdf, 10_000, { sandbox }))
    expect(refusal(run.result).refused).toBe('too_large')
    expect(refusal(run.result).detail).toContain('SIGABRT')
    expect(run.ms).toBeLessThan(PDF_TIMEOUT_MS)
    expect(run.rssGrowth).toBeLessThan(100 * MB)
    expect(textOf(await readDocument(normal, asPdf, 10_000, { sandbox }))).toContain('Quarterly report')
  })
})

describe('a PDF that takes too long', () => {
  test('at the deadline the reader and everything it started (prlimit, bwrap, node) are killed', async () => {
    const slow = await makeBombPdf({ fill: 'operators', decodedBytes: 100_000_000 })
    const sandbox = new Sandbox({ mode: 'on', protect: [], path: process.env.PATH })
    await sandbox.probe()
    const run = await watched(() => readDocument(slow, asPdf, 10_000, { sandbox, timeoutMs: 2000 }))
    expect(run.result).toEqual({ refused: 'too_large', detail: 'the PDF reader gave no answer within 2000 ms' })
    expect(run.ms).toBeGreaterThanOrEqual(2000)
    expect(run.ms).toBeLessThan(3000)
    expect(run.readers.length).toBeGreaterThanOrEqual(2) // bwrap outside and inside its PID namespace, node
    expect(await gone(run.readers)).toEqual([])
  })
})

describe('a launcher that cannot run the reader', () => {
  test('sandbox wanted but bubblewrap not found: the PDF is refused with "sandbox", nothing runs', async () => {
    const sandbox = new Sandbox({ mode: 'on', protect: [], path: '/nonexistent' })
    expect(await sandbox.probe()).toMatchObject({ state: 'unavailable' })
    const run = await watched(() => readDocument(normal, asPdf, 10_000, { sandbox }))
    expect(refusal(run.result).refused).toBe('sandbox')
    expect(refusal(run.result).detail).toContain('bubblewrap')
    expect(run.readers).toEqual([])
    // Text files need no reader and are still read.
    expect(await readDocument(Buffer.from('notes'), { name: 'a.txt', mime: 'text/plain' }, 100, { sandbox })).toMatchObject({ attachment: { text: 'notes' } })
  })

  test('sandbox off but prlimit not found: refused with "sandbox" rather than read without limits', async () => {
    const sandbox = new Sandbox({ mode: 'off', protect: [], path: '/nonexistent' })
    const read = refusal(await readDocument(normal, asPdf, 10_000, { sandbox }))
    expect(read.refused).toBe('sandbox')
    expect(read.detail).toContain('prlimit')
  })
})
