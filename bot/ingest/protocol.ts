import type { JournalMark } from '../../db/journal.ts'
import type { NewUpdate } from '../../db/inbox.ts'

/** What the ingest thread is started with (its workerData). */
export interface IngestSettings {
  host: string
  port: number
  /** Required header value; undefined turns the webhook route off (polling mode). */
  webhookSecret: string | undefined
  /** Native Postgres: the thread's own connections. Embedded: the journal directory beside the data. */
  store: { kind: 'postgres'; url: string } | { kind: 'journal'; dir: string }
  log: { level: string; secrets: readonly string[] }
}

/** An answer the main thread gives to a request the ingest thread cannot answer alone. */
export interface Answer {
  status: number
  contentType: string
  body: string
}

/** /health's report, built on the main thread; the ingest thread adds its own component. */
export interface HealthReport {
  ok: boolean
  body: { status: string; components: Record<string, unknown>; draining: boolean }
}

export type FromIngest =
  | { type: 'listening'; port: number }
  /** Native: updates stored in the inbox; `kinds` of the new ones (repeats are not counted). */
  | { type: 'stored'; kinds: string[] }
  /** Embedded: updates synced to the journal, for the main thread to move into the inbox. */
  | { type: 'journaled'; mark: JournalMark; updates: NewUpdate[] }
  | { type: 'ask'; id: number; what: 'health' | 'metrics' }
  | { type: 'closed' }

export type ToIngest =
  | { type: 'health'; id: number; report: HealthReport | undefined }
  | { type: 'metrics'; id: number; answer: Answer | undefined }
  | { type: 'moved'; mark: JournalMark }
  | { type: 'drain' }
  | { type: 'close' }
