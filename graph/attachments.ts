import { HumanMessage } from '@langchain/core/messages'
import type { BaseMessage, MessageContent } from '@langchain/core/messages'
import * as db from '../db/attachments.ts'
import type { Pool } from '../db/database.ts'
import type { Attachment } from '../domain/attachments.ts'

/** The part a stored message holds in place of a photo or a document: its id, never its bytes. */
export interface AttachmentRef {
  type: 'mechanic_attachment'
  id: string
  kind: Attachment['kind']
  name?: string | undefined
}

type Part = Record<string, unknown> & { type?: unknown }

const isRef = (part: unknown): part is AttachmentRef => typeof part === 'object' && part !== null && (part as Part).type === 'mechanic_attachment'

/** The attachment ids a message refers to. */
export function refsOf(message: BaseMessage): string[] {
  return Array.isArray(message.content) ? (message.content as unknown[]).filter(isRef).map((p) => p.id) : []
}

/** How an image reaches the model: an OpenAI image part with a data URL. */
const imagePart = (mime: string, bytes: Buffer) => ({ type: 'image_url', image_url: { url: `data:${mime};base64,${bytes.toString('base64')}` } })

/** How a document reaches the model: its name, its text, and what was cut. */
const documentText = (name: string | null, text: string, note: string | null) =>
  [`The person attached the file "${name ?? 'file'}". Its text:`, '"""', text, '"""', ...(note ? [note] : [])].join('\n')

/** A message's content with its attachments inline (for a message that is never checkpointed). */
export function inlineContent(text: string, attachments: readonly Attachment[]): MessageContent {
  if (attachments.length === 0) return text
  return [
    ...(text ? [{ type: 'text', text }] : []),
    ...attachments.map((a) =>
      a.kind === 'image' ? imagePart(a.mime, a.data) : { type: 'text', text: documentText(a.name, a.text, a.note ?? null) },
    ),
  ] as MessageContent
}

/**
 * Photos and documents of conversations, stored once (table `attachments`) and referenced by id from
 * the checkpointed messages, so a checkpoint stays small however many turns follow a photo. Before a
 * model call the references are resolved into what the model reads: an image part (a data URL) or
 * the document's text.
 */
export class AttachmentStore {
  readonly #pool: Pool

  constructor(pool: Pool) {
    this.#pool = pool
  }

  /** Stores a turn's attachments and returns the message content that refers to them. */
  async content(threadId: string, turnId: string, text: string, attachments: readonly Attachment[]): Promise<MessageContent> {
    if (attachments.length === 0) return text
    const rows: db.StoredAttachment[] = attachments.map((a, n) => ({
      id: `${threadId}:${turnId}:${n}`,
      kind: a.kind,
      name: a.name ?? null,
      mime: a.mime,
      body: a.kind === 'image' ? a.data : Buffer.from(a.text, 'utf8'),
      note: a.kind === 'document' ? (a.note ?? null) : null,
    }))
    await db.saveAttachments(this.#pool, threadId, rows)
    const refs: AttachmentRef[] = rows.map((r) => ({ type: 'mechanic_attachment', id: r.id, kind: r.kind, ...(r.name !== null && { name: r.name }) }))
    return [...(text ? [{ type: 'text' as const, text }] : []), ...refs] as MessageContent
  }

  /** The messages as the model reads them: each reference replaced by its image or its text. */
  async resolve(messages: readonly BaseMessage[]): Promise<BaseMessage[]> {
    const ids = messages.flatMap(refsOf)
    if (ids.length === 0) return [...messages]
    const found = await db.loadAttachments(this.#pool, ids)
    return messages.map((m) => {
      if (!refsOf(m).length) return m
      const content = (m.content as Part[]).map((part) => {
        if (!isRef(part)) return part
        const a = found.get(part.id)
        if (!a) return { type: 'text', text: `[An earlier ${part.kind === 'image' ? 'image' : 'file'} is no longer available.]` }
        if (a.kind === 'image') return imagePart(a.mime, a.body)
        return { type: 'text', text: documentText(a.name, a.body.toString('utf8'), a.note) }
      })
      return new HumanMessage({ id: m.id, content: content as MessageContent })
    })
  }

  /** Deletes the attachments that `dropped` messages referred to (history trimmed). */
  async dropped(threadId: string, dropped: readonly BaseMessage[]): Promise<void> {
    const ids = dropped.flatMap(refsOf)
    if (ids.length) await db.deleteAttachments(this.#pool, threadId, ids)
  }

  /** Deletes every attachment of a thread (/new). */
  async forget(threadId: string): Promise<void> {
    await db.deleteAttachments(this.#pool, threadId)
  }
}
