import { randomUUID } from 'node:crypto'
import type { Pool } from './database.ts'

/** One conversation place: a chat, or a forum topic of it (topic 0 is the chat itself). */
export interface ChatPlace {
  chatId: number
  topicId?: number | undefined
}

export interface ChatSession {
  threadId: string
  /** The agent the place talks to when a message addresses none; undefined: the default agent. */
  activeAgent: string | undefined
}

const newThreadId = ({ chatId, topicId = 0 }: ChatPlace) => `chat:${chatId}:${topicId ? `${topicId}:` : ''}${randomUUID()}`

/** The place's current conversation thread (created on first use) and its active agent. */
export async function chatSession(pool: Pool, place: ChatPlace): Promise<ChatSession> {
  const { rows } = await pool.query<{ threadId: string; activeAgent: string | null }>(
    `insert into chat_threads (chat_id, topic_id, thread_id) values ($1, $2, $3)
     on conflict (chat_id, topic_id) do update set chat_id = excluded.chat_id
     returning thread_id as "threadId", active_agent as "activeAgent"`,
    [place.chatId, place.topicId ?? 0, newThreadId(place)],
  )
  const row = rows[0]
  if (!row) throw new Error('upsert into chat_threads returned no row')
  return { threadId: row.threadId, activeAgent: row.activeAgent ?? undefined }
}

/** The place's current conversation thread, created on first use. */
export async function currentThread(pool: Pool, place: ChatPlace): Promise<string> {
  return (await chatSession(pool, place)).threadId
}

/** Whether a thread is still the one its place talks in (not replaced by /new). */
export async function isCurrentThread(pool: Pool, threadId: string): Promise<boolean> {
  const { rowCount } = await pool.query('select 1 from chat_threads where thread_id = $1', [threadId])
  return rowCount === 1
}

/** Points the place at a fresh thread and returns the previous one (if any) so it can be deleted. */
export async function startNewThread(pool: Pool, place: ChatPlace): Promise<{ previous: string | undefined; current: string }> {
  const current = newThreadId(place)
  const { rows } = await pool.query<{ previous: string | null }>(
    `with old as (select thread_id from chat_threads where chat_id = $1 and topic_id = $2)
     insert into chat_threads (chat_id, topic_id, thread_id) values ($1, $2, $3)
     on conflict (chat_id, topic_id) do update set thread_id = excluded.thread_id, updated_at = now()
     returning (select thread_id from old) as previous`,
    [place.chatId, place.topicId ?? 0, current],
  )
  return { previous: rows[0]?.previous ?? undefined, current }
}

/** Sets the agent a place talks to (undefined: back to the default). */
export async function setActiveAgent(pool: Pool, place: ChatPlace, agent: string | undefined): Promise<void> {
  await pool.query(
    `insert into chat_threads (chat_id, topic_id, thread_id, active_agent) values ($1, $2, $3, $4)
     on conflict (chat_id, topic_id) do update set active_agent = excluded.active_agent, updated_at = now()`,
    [place.chatId, place.topicId ?? 0, newThreadId(place), agent ?? null],
  )
}

/** Sends every place that talks to a deleted agent back to the default agent. */
export async function clearActiveAgent(pool: Pool, agent: string): Promise<number> {
  const { rowCount } = await pool.query('update chat_threads set active_agent = null, updated_at = now() where active_agent = $1', [agent])
  return rowCount ?? 0
}

/** The forum topic a thread id belongs to (ids are `chat:<chat>:<topic>:<uuid>` in topics), if any. */
export function topicOfThread(threadId: string): number | undefined {
  const topic = /^chat:-?\d+:(\d+):/.exec(threadId)?.[1]
  return topic ? Number(topic) : undefined
}
