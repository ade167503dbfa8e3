import type { Transcriber, Transcript } from '../agents/transcriber.ts'
import { TranscriptionError } from '../agents/transcriber.ts'
import type { Pool } from '../db/database.ts'
import * as inbox from '../db/inbox.ts'
import type { ModelCallReport } from '../domain/model-calls.ts'
import type { Sandbox } from '../sandbox/sandbox.ts'
import { documentKind, readDocument } from './documents.ts'
import type { DocumentReading } from './documents.ts'

export type { DocumentReading, DocumentRefusal } from './documents.ts'

/** The kinds of input counted in metrics. */
export type MediaKind = 'voice' | 'audio' | 'video_note' | 'photo' | 'document' | 'other'

/** What the media service reports: input received, and how each transcription went and how long it took. */
export interface MediaObserver {
  received(kind: MediaKind): void
  transcription(outcome: 'ok' | TranscriptionError['kind'], ms: number): void
}

/** How long an album may take to arrive: the wait ends once no new item came for SETTLE_MS, or after MAX_WAIT_MS. */
const ALBUM_SETTLE_MS = 800
const ALBUM_MAX_WAIT_MS = 3000
const ALBUM_POLL_MS = 100

/**
 * Input beyond text: speech to text (usage recorded and observed), files read for the model, and
 * albums gathered into one turn. Downloads are the bot's (they are Telegram's); this is what follows.
 */
export class Media {
  readonly #pool: Pool
  readonly #transcriber: Transcriber
  readonly #record: (call: ModelCallReport) => void
  readonly #observe: MediaObserver
  readonly #documentMaxChars: number
  readonly #sandbox: Sandbox
  /** The PDF read last (or under way): the next waits for it. */
  #pdfTurn: Promise<unknown> = Promise.resolve()

  readonly #budget: ((who: { chatId: number; userId: number; agent: string }) => Promise<void>) | undefined

  constructor(deps: {
    pool: Pool
    transcriber: Transcriber
    record: (call: ModelCallReport) => void
    /** Checked before a transcription: a spent budget throws BudgetExceededError and nothing is sent. */
    budget?: ((who: { chatId: number; userId: number; agent: string }) => Promise<void>) | undefined
    observe: MediaObserver
    documentMaxChars: number
    /** Where PDFs are read: a child process launched through it, with limits. */
    sandbox: Sandbox
  }) {
    this.#budget = deps.budget
    this.#pool = deps.pool
    this.#transcriber = deps.transcriber
    this.#record = deps.record
    this.#observe = deps.observe
    this.#documentMaxChars = deps.documentMaxChars
    this.#sandbox = deps.sandbox
  }

  /** Counts one piece of input by kind. */
  received(kind: MediaKind): void {
    this.#observe.received(kind)
  }

  /** Speech to text, for `who`; the call is recorded like a model call. Throws TranscriptionError, or BudgetExceededError before any call. */
  async transcribe(audio: Buffer, fileName: string, who: { chatId: number; userId: number }): Promise<Transcript> {
    await this.#budget?.({ ...who, agent: 'transcription' })
    const started = performance.now()
    const report = (outcome: 'ok' | TranscriptionError['kind'], t?: Transcript) => {
      const ms = performance.now() - started
      this.#observe.transcription(outcome, ms)
      this.#record({
        agent: 'transcription',
        model: this.#transcriber.model,
        ...who,
        inputTokens: t?.inputTokens ?? 0,
        outputTokens: t?.outputTokens ?? 0,
        audioSeconds: t?.audioSeconds,
        ms,
        ...(outcome !== 'ok' && { error: outcome }),
      })
    }
    try {
      const transcript = await this.#transcriber.transcribe(audio, fileName)
      report('ok', transcript)
      return transcript
    } catch (err) {
      const failure = err instanceof TranscriptionError ? err : new TranscriptionError('unavailable', String(err), { cause: err })
      report(failure.kind)
      throw failure
    }
  }

  /**
   * A file's content for the model, or why it is not read. PDFs are read one at a time: each reader
   * may take some 650 MB before its limits stop it, and a reader per dispatcher lane (eight by default) would
   * take more memory than the machine has.
   */
  readDocument(bytes: Buffer, file: { name: string; mime: string }): Promise<DocumentReading> {
    const read = () => readDocument(bytes, file, this.#documentMaxChars, { sandbox: this.#sandbox })
    if (documentKind(file.name, file.mime) !== 'pdf') return read()
    const turn = this.#pdfTurn.then(read)
    this.#pdfTurn = turn.catch(() => undefined)
    return turn
  }

  /**
   * The messages of an album, for the update of it that runs first: waits until the album has
   * settled (Telegram sends its items as separate updates, a moment apart), then takes the items
   * still queued in the lane into this turn so they do not run as turns of their own. A retried
   * first update finds the same items. Returns the stored update payloads, oldest first.
   */
  async album(lane: number, updateId: number, groupId: string): Promise<unknown[]> {
    const deadline = Date.now() + ALBUM_MAX_WAIT_MS
    let members = await inbox.albumMembers(this.#pool, lane, groupId, updateId)
    while (Date.now() < deadline && Math.min(...members.map((m) => m.ageMs)) < ALBUM_SETTLE_MS) {
      await new Promise((r) => setTimeout(r, ALBUM_POLL_MS))
      members = await inbox.albumMembers(this.#pool, lane, groupId, updateId)
    }
    await inbox.absorb(this.#pool, members.filter((m) => m.status === 'queued').map((m) => m.updateId))
    return members.map((m) => m.payload)
  }
}
