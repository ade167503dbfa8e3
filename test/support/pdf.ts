import { createDeflate } from 'node:zlib'

/**
 * A PDF file from its objects (numbered from 1, each its dictionary and, for a stream, the stream's
 * bytes), with a cross-reference table holding the true byte offsets, as readers expect.
 */
function assemblePdf(objects: ReadonlyArray<{ dict: string; stream?: Buffer }>): Buffer {
  const parts: Buffer[] = [Buffer.from('%PDF-1.4\n', 'latin1')]
  let size = parts[0]!.length
  const push = (b: Buffer) => {
    parts.push(b)
    size += b.length
  }
  const offsets: number[] = []
  objects.forEach((o, i) => {
    offsets.push(size)
    if (o.stream) {
      push(Buffer.from(`${i + 1} 0 obj\n${o.dict}\nstream\n`, 'latin1'))
      push(o.stream)
      push(Buffer.from('\nendstream\nendobj\n', 'latin1'))
    } else {
      push(Buffer.from(`${i + 1} 0 obj\n${o.dict}\nendobj\n`, 'latin1'))
    }
  })
  const count = objects.length + 1
  let tail = `xref\n0 ${count}\n0000000000 65535 f \n`
  for (const offset of offsets) tail += `${String(offset).padStart(10, '0')} 00000 n \n`
  tail += `trailer\n<< /Size ${count} /Root 1 0 R >>\nstartxref\n${size}\n%%EOF\n`
  push(Buffer.from(tail, 'latin1'))
  return Buffer.concat(parts)
}

/** Catalog, page tree and a Helvetica font, then each page and its content stream (objects 4 and 5, 6 and 7, …). */
function pagesPdf(contents: ReadonlyArray<{ stream: Buffer; filter?: string }>): Buffer {
  const pageIds = contents.map((_, i) => 4 + i * 2)
  const objects: Array<{ dict: string; stream?: Buffer }> = [
    { dict: '<< /Type /Catalog /Pages 2 0 R >>' },
    { dict: `<< /Type /Pages /Kids [${pageIds.map((id) => `${id} 0 R`).join(' ')}] /Count ${contents.length} >>` },
    { dict: '<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>' },
  ]
  contents.forEach((c, i) => {
    objects.push({ dict: `<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> /Contents ${pageIds[i]! + 1} 0 R >>` })
    objects.push({ dict: `<< /Length ${c.stream.length}${c.filter ? ` /Filter /${c.filter}` : ''} >>`, stream: c.stream })
  })
  return assemblePdf(objects)
}

/**
 * A real, minimal PDF 1.4 file with one page per entry of `pages`, each line set in Helvetica: enough
 * for a PDF reader's text extraction to find the words.
 */
export function makePdf(pages: string[][]): Buffer {
  const escape = (s: string) => s.replace(/[\\()]/g, (c) => `\\${c}`)
  return pagesPdf(pages.map((lines) => ({ stream: Buffer.from(['BT', '/F1 12 Tf', '14 TL', '72 720 Td', ...lines.map((l) => `(${escape(l)}) Tj T*`), 'ET'].join('\n'), 'latin1') })))
}

/** Deflates `head` then `total` bytes of `chunk` repeated, feeding zlib a piece at a time: the whole is never held. */
async function deflateRepeated(head: Buffer, chunk: Buffer, total: number): Promise<Buffer> {
  const deflate = createDeflate({ level: 9 })
  const out: Buffer[] = []
  deflate.on('data', (c: Buffer) => out.push(c))
  const ended = new Promise<void>((resolve, reject) => {
    deflate.once('end', resolve)
    deflate.once('error', reject)
  })
  deflate.write(head)
  for (let sent = 0; sent < total; sent += chunk.length) {
    const piece = chunk.subarray(0, Math.min(chunk.length, total - sent))
    if (!deflate.write(piece)) await new Promise((resolve) => deflate.once('drain', resolve))
  }
  deflate.end()
  await ended
  return Buffer.concat(out)
}

/**
 * A decompression bomb: a valid one-page PDF whose content stream is FlateDecode of `decodedBytes`,
 * small as a file (1.1 GB of zeros deflate to about 1 MB). `fill` is what the stream unpacks to:
 * - `zeros` (white space to a PDF reader: all of it is decoded and kept before anything is drawn);
 * - `text`, `(A) Tj` repeated: a text item each, which also fills a reader's JavaScript heap;
 * - `operators`, `q Q` repeated: cheap to keep but slow to walk, a PDF that takes long rather than
 *   one that takes memory (250 MB by default: 27 s in pdf.js here, in about 630 MB).
 * Deflating 1.1 GB takes about 2 s.
 */
export async function makeBombPdf(opts: { decodedBytes?: number; fill?: 'zeros' | 'text' | 'operators' } = {}): Promise<Buffer> {
  const fill = opts.fill ?? 'zeros'
  const head = Buffer.from(fill === 'text' ? 'BT\n/F1 12 Tf\n72 720 Td\n' : '', 'latin1')
  const piece = fill === 'zeros' ? Buffer.alloc(1 << 20) : Buffer.from((fill === 'text' ? '(A) Tj\n' : 'q Q\n').repeat(1 << 17), 'latin1')
  const stream = await deflateRepeated(head, piece, opts.decodedBytes ?? (fill === 'operators' ? 250_000_000 : 1_100_000_000))
  return pagesPdf([{ stream, filter: 'FlateDecode' }])
}
