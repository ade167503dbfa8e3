import { spawn } from 'node:child_process'
import { constants } from 'node:os'
import { dirname, extname } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Attachment } from '../domain/attachments.ts'
import { killGroup, SandboxUnavailableError } from '../sandbox/sandbox.ts'
import type { Sandbox, SandboxPolicy } from '../sandbox/sandbox.ts'

/**
 * Why a file was not read: a type we do not read, a file we could not read, one with no text, a PDF
 * whose reading hit a limit (memory, CPU, time or output: a decompression bomb looks like this), or
 * PDF reading not possible here (the sandbox it needs does not work).
 */
export type DocumentRefusal = 'unsupported' | 'unreadable' | 'no_text' | 'too_large' | 'sandbox'

/** A file's content for the model, or why it is not read; `detail` is for the log, never for the person. */
export type DocumentReading = { attachment: Attachment } | { refused: DocumentRefusal; detail?: string }

/** Images sent as files (screenshots kept sharp): read as images. */
const IMAGE_TYPES = new Set(['image/jpeg', 'image/png', 'image/webp', 'image/gif'])

/** Files read as text: by MIME type, or by extension when Telegram only says "application/octet-stream". */
const TEXT_TYPES = new Set(['application/json', 'application/xml', 'application/x-yaml', 'application/yaml', 'application/javascript', 'application/x-sh', 'application/sql', 'application/toml', 'application/x-ndjson', 'application/csv'])
const TEXT_EXTENSIONS = new Set(
  ('txt md markdown rst csv tsv json jsonl ndjson yaml yml toml ini cfg conf xml html htm css scss js mjs cjs ts tsx jsx vue svelte py rb go rs java kt kts scala swift c h cc cpp hpp cs fs php pl lua r sh bash zsh fish ps1 sql graphql proto log diff patch tex dockerfile makefile gitignore').split(' '),
)

const extensionOf = (name: string) => {
  const ext = extname(name).slice(1).toLowerCase()
  return ext || name.toLowerCase()
}

/** What kind of file this is, by its MIME type or else its name. */
export function documentKind(name: string, mime: string): 'image' | 'pdf' | 'text' | 'other' {
  const type = mime.toLowerCase().split(';')[0]!.trim()
  if (IMAGE_TYPES.has(type)) return 'image'
  if (type === 'application/pdf' || extensionOf(name) === 'pdf') return 'pdf'
  if (type.startsWith('text/') || TEXT_TYPES.has(type) || TEXT_EXTENSIONS.has(extensionOf(name))) return 'text'
  return 'other'
}

/** Text as UTF-8, or undefined when the bytes are not text (invalid UTF-8, or NUL bytes). */
function decodeText(bytes: Buffer): string | undefined {
  try {
    const text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(bytes)
    return text.includes('\0') ? undefined : text
  } catch {
    return undefined
  }
}

/** The longest a PDF may take to read (wall clock). */
export const PDF_TIMEOUT_MS = 20_000

/**
 * The PDF reader's address space. Node 24 reserves about 1.3 GiB before it runs a line (V8's 512 MiB
 * code range, its heap's reservations, a malloc arena per thread) and does not start below about
 * 1.1 GiB; 2 GiB leaves it some 650 MB to allocate. A 500-page PDF of text (3 MB) peaks at 280 MB
 * resident and is read; at 1.5 GiB it is not. A bomb is stopped at about 635 MB, in 2 to 3 s.
 */
const PDF_ADDRESS_SPACE_BYTES = 2 * 1024 ** 3
/** CPU time, a backstop behind the wall clock (V8's helper threads can spend more than one core). */
const PDF_CPU_SECONDS = 30
/** The most the reader may print: its text is capped at 500,000 characters (pdf-child.ts), so more means something is wrong. */
const PDF_OUTPUT_MAX_BYTES = 4 * 1024 * 1024
/** What is kept of the reader's stderr, for the log: V8's fatal error is near its end. */
const STDERR_TAIL_CHARS = 8192

// The reader beside this file: .ts when run from source (Node strips the types), .js when built.
const PDF_CHILD = fileURLToPath(new URL(`./pdf-child${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url))

/**
 * The reader's sandbox: node on the child script, nothing of ours in its environment, nothing
 * writable, its own /tmp. The launcher binds the script's folder and the node_modules above it
 * read-only, which is all it imports. A heap of 256 MB is plenty for text; decoded streams live
 * outside V8's heap, so the address-space limit is what stops a bomb.
 */
export function pdfReaderPolicy(): SandboxPolicy {
  return {
    command: process.execPath,
    args: ['--max-old-space-size=256', '--disallow-code-generation-from-strings', PDF_CHILD],
    env: { PATH: dirname(process.execPath), LANG: 'C.UTF-8' },
    cwd: '/tmp',
    limits: { addressSpaceBytes: PDF_ADDRESS_SPACE_BYTES, cpuSeconds: PDF_CPU_SECONDS },
  }
}

/** What reading a PDF gave: its text (at most the reader's cap) and how long the whole text is, or a refusal. */
export type PdfText = { text: string; chars: number } | { refused: 'unreadable' | 'too_large' | 'sandbox'; detail: string }

const signalName = (n: number) => Object.entries(constants.signals).find(([, v]) => v === n)?.[0] ?? `signal ${n}`

/** The line of the reader's stderr that says why it died (V8's fatal error), or its last line, after a colon. */
function why(stderr: string): string {
  const lines = stderr.split('\n').map((l) => l.trim()).filter(Boolean)
  const line = lines.find((l) => /fatal|out of memory|allocation failed/i.test(l)) ?? lines.at(-1)
  return line ? `: ${line.slice(0, 300)}` : ''
}

/**
 * What the reader's end says: its answer line, else how it died. Under bubblewrap a program killed by
 * a signal is reported as exit code 128 + the signal's number (bwrap waits for it and exits so).
 */
export function pdfOutcome(stdout: string, code: number | null, signal: string | null, stderr: string): PdfText {
  const line = stdout.trim().split('\n').at(-1) ?? ''
  let answer: { text?: unknown; chars?: unknown; error?: unknown; limit?: unknown } | undefined
  try {
    answer = line ? (JSON.parse(line) as typeof answer) : undefined
  } catch {
    answer = undefined
  }
  if (typeof answer?.text === 'string') return { text: answer.text, chars: typeof answer.chars === 'number' ? answer.chars : answer.text.length }
  if (typeof answer?.error === 'string') return { refused: answer.limit === true ? 'too_large' : 'unreadable', detail: answer.error.slice(0, 300) }
  const died = signal ?? (code !== null && code > 128 ? signalName(code - 128) : undefined)
  if (died) return { refused: 'too_large', detail: `the PDF reader was killed by ${died}${why(stderr)}` }
  return { refused: 'unreadable', detail: `the PDF reader exited with code ${code} and no answer${why(stderr)}` }
}

/**
 * A PDF's text, read by pdf-child.ts in a process of its own, started through the sandbox with limits
 * on its address space and CPU time, and killed with everything it started after `timeoutMs`. Never
 * throws: every way it can end is a PdfText.
 */
async function pdfText(bytes: Buffer, sandbox: Sandbox, timeoutMs: number): Promise<PdfText> {
  let launch
  try {
    launch = sandbox.launch(pdfReaderPolicy())
  } catch (err) {
    if (err instanceof SandboxUnavailableError) return { refused: 'sandbox', detail: err.message }
    throw err
  }
  const { file, args, env, cwd } = launch
  return new Promise((resolve) => {
    const child = spawn(file, args, { env, cwd, detached: true, stdio: ['pipe', 'pipe', 'pipe'] })
    const out: Buffer[] = []
    let outBytes = 0
    let stderr = ''
    let settled = false
    const finish = (result: PdfText, kill: boolean) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      if (kill) {
        // Its own process group: the kill reaches prlimit's program and bwrap (whose sandbox dies with it).
        if (child.pid) killGroup(child.pid)
        child.stdout.destroy()
        child.stderr.destroy()
      }
      resolve(result)
    }
    const timer = setTimeout(() => finish({ refused: 'too_large', detail: `the PDF reader gave no answer within ${timeoutMs} ms` }, true), timeoutMs)
    child.stdout.on('data', (chunk: Buffer) => {
      outBytes += chunk.length
      if (outBytes > PDF_OUTPUT_MAX_BYTES) finish({ refused: 'too_large', detail: `the PDF reader printed more than ${PDF_OUTPUT_MAX_BYTES} bytes` }, true)
      else out.push(chunk)
    })
    child.stderr.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString('utf8')).slice(-STDERR_TAIL_CHARS)
    })
    child.once('error', (err) => finish({ refused: 'sandbox', detail: `the PDF reader could not start: ${err.message}` }, true))
    child.once('close', (code, signal) => finish(pdfOutcome(Buffer.concat(out).toString('utf8'), code, signal, stderr), false))
    // A reader that stops early (it refuses too much input, or dies) closes its stdin: not an error of ours.
    child.stdin.on('error', () => undefined)
    child.stdin.end(bytes)
  })
}

/** How a PDF is read: through this sandbox, for at most this long. */
export interface PdfReading {
  sandbox: Sandbox
  timeoutMs?: number | undefined
}

/**
 * Reads a file a person sent for the model: an image as an image; plain text, Markdown, source code,
 * JSON, CSV and the like as text; a PDF's text layer (pdf.js, through unpdf, in a sandboxed child
 * process with limits on memory, CPU and time, so a crafted PDF cannot take the service's memory or
 * hold its event loop). Text longer than `maxChars` is cut, with a note saying how much the model did
 * not see. Never throws for what a file holds: a file that cannot be read is a refusal.
 */
export async function readDocument(bytes: Buffer, file: { name: string; mime: string }, maxChars: number, pdf: PdfReading): Promise<DocumentReading> {
  const kind = documentKind(file.name, file.mime)
  if (kind === 'image') return { attachment: { kind: 'image', mime: file.mime.toLowerCase(), data: bytes, name: file.name } }
  if (kind === 'other') return { refused: 'unsupported' }
  let text: string
  let total: number
  if (kind === 'pdf') {
    const read = await pdfText(bytes, pdf.sandbox, pdf.timeoutMs ?? PDF_TIMEOUT_MS)
    if ('refused' in read) return read
    text = read.text
    total = Math.max(read.chars, read.text.length)
  } else {
    const decoded = decodeText(bytes)
    if (decoded === undefined) return { refused: 'unreadable' }
    text = decoded
    total = decoded.length
  }
  if (!text.trim()) return { refused: 'no_text' }
  let end = Math.min(maxChars, text.length)
  // Never between the two halves of a surrogate pair.
  if (end < total && /[\uD800-\uDBFF]/.test(text[end - 1]!)) end -= 1
  const note = end < total ? `[The file has ${total} characters; only the first ${end} are included here.]` : undefined
  return { attachment: { kind: 'document', mime: kind === 'pdf' ? 'application/pdf' : file.mime, name: file.name, text: text.slice(0, end), note } }
}
