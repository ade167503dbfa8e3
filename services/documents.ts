import { extname } from 'node:path'
import { Worker } from 'node:worker_threads'
import type { Attachment } from '../domain/attachments.ts'

/** Why a file was not read: a type we do not read, a file we could not read, or one with no text. */
export type DocumentRefusal = 'unsupported' | 'unreadable' | 'no_text'

export type DocumentReading = { attachment: Attachment } | { refused: DocumentRefusal }

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

/** The longest a PDF may take to read. */
export const PDF_TIMEOUT_MS = 20_000

// The worker's file beside this one: .ts when run from source, .js when built.
const PDF_WORKER = new URL(`./pdf-worker${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url)

/** A PDF's text, read in a worker thread that is stopped after `timeoutMs`; undefined when unreadable. */
function pdfText(bytes: Buffer, timeoutMs: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const worker = new Worker(PDF_WORKER, { workerData: new Uint8Array(bytes) })
    const done = (text: string | undefined) => {
      clearTimeout(timer)
      resolve(text)
      void worker.terminate()
    }
    const timer = setTimeout(() => done(undefined), timeoutMs)
    worker.once('message', (m: { text?: unknown }) => done(typeof m.text === 'string' ? m.text : undefined))
    worker.once('error', () => done(undefined))
    worker.once('exit', () => done(undefined))
  })
}

/**
 * Reads a file a person sent for the model: an image as an image; plain text, Markdown, source code,
 * JSON, CSV and the like as text; a PDF's text layer (pdf.js, through unpdf, in a worker thread with a
 * time limit, so a crafted PDF cannot hold the event loop). Text longer than
 * `maxChars` is cut, with a note saying how much the model did not see.
 */
export async function readDocument(bytes: Buffer, file: { name: string; mime: string }, maxChars: number, pdfTimeoutMs = PDF_TIMEOUT_MS): Promise<DocumentReading> {
  const kind = documentKind(file.name, file.mime)
  if (kind === 'image') return { attachment: { kind: 'image', mime: file.mime.toLowerCase(), data: bytes, name: file.name } }
  if (kind === 'other') return { refused: 'unsupported' }
  const text = kind === 'pdf' ? await pdfText(bytes, pdfTimeoutMs) : decodeText(bytes)
  if (text === undefined) return { refused: 'unreadable' }
  if (!text.trim()) return { refused: 'no_text' }
  const cut = text.length > maxChars
  // Never between the two halves of a surrogate pair.
  const end = cut && /[\uD800-\uDBFF]/.test(text[maxChars - 1]!) ? maxChars - 1 : maxChars
  const note = cut ? `[The file has ${text.length} characters; only the first ${end} are included here.]` : undefined
  return { attachment: { kind: 'document', mime: kind === 'pdf' ? 'application/pdf' : file.mime, name: file.name, text: cut ? text.slice(0, end) : text, note } }
}
