import type { Pool } from './database.ts'

/** A photo or a document as stored: the image's bytes, or the document's extracted text. */
export interface StoredAttachment {
  id: string
  kind: 'image' | 'document'
  name: string | null
  mime: string
  body: Buffer
  note: string | null
}

/** Stores attachments; an id that exists already (a retried turn) is left as it is. */
export async function saveAttachments(pool: Pool, threadId: string, items: readonly StoredAttachment[]): Promise<void> {
  for (const a of items) {
    await pool.query(
      `insert into attachments (id, thread_id, kind, name, mime, body, note) values ($1, $2, $3, $4, $5, $6, $7)
       on conflict (id) do nothing`,
      [a.id, threadId, a.kind, a.name, a.mime, a.body, a.note],
    )
  }
}

export async function loadAttachments(pool: Pool, ids: readonly string[]): Promise<Map<string, StoredAttachment>> {
  if (ids.length === 0) return new Map()
  const { rows } = await pool.query<StoredAttachment>('select id, kind, name, mime, body, note from attachments where id = any($1)', [ids])
  return new Map(rows.map((r) => [r.id, { ...r, body: Buffer.from(r.body) }]))
}

/** Deletes a thread's attachments: those with `ids`, or all of them. */
export async function deleteAttachments(pool: Pool, threadId: string, ids?: readonly string[]): Promise<number> {
  const { rowCount } = await pool.query('delete from attachments where thread_id = $1 and ($2::text[] is null or id = any($2))', [threadId, ids ?? null])
  return rowCount ?? 0
}
