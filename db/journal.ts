import { mkdirSync, readFileSync, readdirSync, unlinkSync } from 'node:fs'
import { open } from 'node:fs/promises'
import type { FileHandle } from 'node:fs/promises'
import { join } from 'node:path'
import type { NewUpdate } from './inbox.ts'

/**
 * The embedded database's ingest journal: updates acknowledged to Telegram before they reach the
 * inbox table. PGlite is one session on the main thread, busy with turns; the ingest thread cannot
 * reach it, so it appends each batch of updates to a segment file, syncs it to disk, acknowledges,
 * and hands the batch to the main thread, which moves it into the inbox. A segment is deleted once
 * everything in it is in the inbox; whatever a crash leaves behind is moved at the next start
 * (the inbox ignores update ids it already has, so moving twice is harmless).
 */

/** A segment is closed and a new one begun past this size. */
const SEGMENT_BYTES = 4 * 1024 * 1024
const SEGMENT = /^segment-(\d{12})\.jsonl$/
const segmentName = (seq: number) => `segment-${String(seq).padStart(12, '0')}.jsonl`

function segmentsIn(dir: string): number[] {
  return readdirSync(dir)
    .map((name) => SEGMENT.exec(name)?.[1])
    .filter((seq): seq is string => seq !== undefined)
    .map(Number)
    .sort((a, b) => a - b)
}

/** Syncs a directory, so the files created in it survive a crash (their names are in it). */
async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r')
  try {
    await handle.sync()
  } finally {
    await handle.close()
  }
}

/** Where a batch ended: the moving side reports it back so that finished segments can go. */
export interface JournalMark {
  segment: number
  end: number
}

/** The writing side (the ingest thread). Appends are serialized by the caller (one flush at a time). */
export class JournalWriter {
  readonly #dir: string
  #seq: number
  #file: FileHandle | undefined
  #size = 0
  #appending = false
  /** Closed segments by number, with their final size; deleted when moved to their end. */
  readonly #sealed = new Map<number, number>()

  private constructor(dir: string, seq: number) {
    this.#dir = dir
    this.#seq = seq
  }

  /** Opens the journal in `dir`, starting a segment after any left there (they are the mover's). */
  static open(dir: string): JournalWriter {
    mkdirSync(dir, { recursive: true })
    return new JournalWriter(dir, (segmentsIn(dir).at(-1) ?? 0) + 1)
  }

  /** Writes the updates as one JSON line each and syncs them to disk; only then is a batch durable. */
  async append(updates: readonly NewUpdate[]): Promise<JournalMark> {
    this.#appending = true
    try {
      if (this.#size >= SEGMENT_BYTES) await this.#seal()
      const fresh = this.#file === undefined
      this.#file ??= await open(join(this.#dir, segmentName(this.#seq)), 'a')
      const data = Buffer.from(updates.map((u) => `${JSON.stringify(u)}\n`).join(''))
      await this.#file.write(data)
      await this.#file.datasync()
      // A new segment's name must be durable too, or a crash could lose the file with what it holds.
      if (fresh) await syncDir(this.#dir)
      this.#size += data.length
      return { segment: this.#seq, end: this.#size }
    } finally {
      this.#appending = false
    }
  }

  /**
   * The mover has everything up to `mark` in the inbox. A closed segment moved to its end is
   * deleted, and so is the open one when nothing is being written to it: a journal holds only what
   * is not yet in the inbox, so an old line can never come back after the inbox has pruned its row.
   */
  moved(mark: JournalMark): void {
    if (mark.segment === this.#seq && mark.end === this.#size && !this.#appending && this.#file) {
      const file = this.#file
      this.#file = undefined
      this.#seq++
      this.#size = 0
      void file.close().finally(() => unlinkSync(join(this.#dir, segmentName(mark.segment))))
      return
    }
    if (this.#sealed.get(mark.segment) !== mark.end) return
    this.#sealed.delete(mark.segment)
    unlinkSync(join(this.#dir, segmentName(mark.segment)))
  }

  async close(): Promise<void> {
    await this.#file?.close()
    this.#file = undefined
  }

  /** Closes the current segment; recorded as sealed first, so a mark that arrives meanwhile still deletes it. */
  async #seal(): Promise<void> {
    this.#sealed.set(this.#seq, this.#size)
    const file = this.#file
    this.#file = undefined
    this.#seq++
    this.#size = 0
    await file?.close()
  }
}

const isUpdate = (v: unknown): v is NewUpdate => {
  const u = v as Partial<NewUpdate> | null
  return typeof u === 'object' && u !== null && Number.isSafeInteger(u.updateId) && Number.isSafeInteger(u.lane) && typeof u.kind === 'string' && u.payload !== undefined
}

/**
 * What a previous run left in the journal (read before the ingest thread starts): its updates in
 * order, the files to delete once they are in the inbox, and how many lines were unreadable (a
 * write cut short by a crash was never acknowledged, so Telegram delivers it again).
 */
export function readJournal(dir: string): { updates: NewUpdate[]; files: string[]; unreadable: number } {
  mkdirSync(dir, { recursive: true })
  const files = journalFiles(dir)
  const updates: NewUpdate[] = []
  let unreadable = 0
  for (const file of files) {
    const lines = readFileSync(file, 'utf8').split('\n')
    if (lines.at(-1) !== '') unreadable++ // a last line without its newline: cut short
    for (const line of lines.slice(0, -1)) {
      try {
        const update: unknown = JSON.parse(line)
        if (isUpdate(update)) updates.push(update)
        else unreadable++
      } catch {
        unreadable++
      }
    }
  }
  return { updates, files, unreadable }
}

/** The journal's segment files, oldest first. */
export function journalFiles(dir: string): string[] {
  return segmentsIn(dir).map((seq) => join(dir, segmentName(seq)))
}

export function removeJournalFiles(files: readonly string[]): void {
  for (const file of files) unlinkSync(file)
}
