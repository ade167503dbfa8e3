import { randomUUID } from 'node:crypto'
import type { Pool } from './database.ts'

const newThreadId = (chatId: number) => `chat:${chatId}:${randomUUID()}`

/** The chat's current conversation thread, created on first use. */
export async function currentThread(pool: Pool, chatId: number): Promise<string> {
  const { rows } = await pool.query<{ threadId: string }>(
    `insert into chat_threads (chat_id, thread_id) values ($1, $2)
     on conflict (chat_id) do update set chat_id = excluded.chat_id
     returning thread_id as "threadId"`,
    [chatId, newThreadId(chatId)],
  )
  const row = rows[0]
  if (!row) throw new Error('upsert into chat_threads returned no row')
  return row.threadId
}

/** Points the chat at a fresh thread and returns the previous one (if any) so it can be deleted. */
export async function startNewThread(pool: Pool, chatId: number): Promise<{ previous: string | undefined; current: string }> {
  const current = newThreadId(chatId)
  const { rows } = await pool.query<{ previous: string | null }>(
    `with old as (select thread_id from chat_threads where chat_id = $1)
     insert into chat_threads (chat_id, thread_id) values ($1, $2)
     on conflict (chat_id) do update set thread_id = excluded.thread_id, updated_at = now()
     returning (select thread_id from old) as previous`,
    [chatId, current],
  )
  return { previous: rows[0]?.previous ?? undefined, current }
}
