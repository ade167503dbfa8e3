// A child process, started in the sandbox by services/documents.ts: reads one PDF from stdin, writes
// its text layer (pdf.js through unpdf) as one JSON line on stdout, and exits. pdf.js keeps decoded
// streams in memory, so a small crafted PDF can unpack to gigabytes: that happens here, under the
// address-space, CPU and time limits of this process, never in the service's. The sandbox shows this
// folder and node_modules only, so this file imports unpdf and Node's builtins and nothing of ours.
import { extractText, getDocumentProxy } from 'unpdf'

/** The most pages read: a longer PDF's text would be cut anyway. */
const MAX_PAGES = 500
/** The most bytes read from stdin: Telegram's download limit, above any document cap of the service. */
const MAX_INPUT_BYTES = 20 * 1024 * 1024
/** The most characters written back (the answer says how many there were): far more than a model is given. */
const MAX_TEXT_CHARS = 500_000

/** What the parent reads: the text, or why there is none (`limit`: a limit of ours stopped it, not a bad file). */
type Answer = { text: string; chars: number } | { error: string; limit?: true }

/** An allocation the limits refused: an ArrayBuffer outside V8's heap, or an array or string too long. */
const OUT_OF_MEMORY = /allocation failed|invalid array length|invalid string length|out of memory/i

// pdf.js recovers from a stream it cannot decode by skipping it with a warning (console.log); when the
// reason is a refused allocation, the text is quietly incomplete, so the warnings are watched. They
// go to stderr: stdout carries our one line and nothing else.
let refusedAllocation = false
console.log = console.info = console.warn = console.debug = (...args: unknown[]) => {
  const line = args.map(String).join(' ')
  if (OUT_OF_MEMORY.test(line)) refusedAllocation = true
  process.stderr.write(`${line}\n`)
}

function answer(a: Answer): void {
  process.stdout.write(`${JSON.stringify(a)}\n`, () => process.exit(0))
}

async function readInput(): Promise<Uint8Array | undefined> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of process.stdin as AsyncIterable<Buffer>) {
    size += chunk.length
    if (size > MAX_INPUT_BYTES) return undefined
    chunks.push(chunk)
  }
  return new Uint8Array(Buffer.concat(chunks))
}

try {
  const bytes = await readInput()
  if (!bytes) {
    answer({ error: `the PDF has more than ${MAX_INPUT_BYTES} bytes`, limit: true })
  } else {
    const pdf = await getDocumentProxy(bytes)
    if (pdf.numPages > MAX_PAGES) {
      answer({ error: `the PDF has ${pdf.numPages} pages, more than ${MAX_PAGES}` })
    } else {
      const { text } = await extractText(pdf, { mergePages: true })
      if (refusedAllocation) answer({ error: 'an allocation was refused while reading', limit: true })
      else answer({ text: text.slice(0, MAX_TEXT_CHARS), chars: text.length })
    }
  }
} catch (err) {
  const message = err instanceof Error ? `${err.name}: ${err.message}` : String(err)
  answer({ error: message, ...(OUT_OF_MEMORY.test(message) && { limit: true as const }) })
}
