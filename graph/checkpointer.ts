import { PostgresSaver } from '@langchain/langgraph-checkpoint-postgres'
import type pg from 'pg'

/** LangGraph's own Postgres checkpointer on the service's pool. Call `setup()` once (the migrate step does). */
export function createCheckpointer(pool: pg.Pool): PostgresSaver {
  return new PostgresSaver(pool)
}

/**
 * Deletes every checkpoint of a thread but the newest `keep`, with the blobs and writes only they
 * used. PostgresSaver never prunes by itself, and every turn adds a checkpoint.
 */
export async function pruneThread(pool: pg.Pool, threadId: string, keep = 1): Promise<void> {
  const client = await pool.connect()
  try {
    await client.query('begin')
    await client.query(
      `delete from checkpoints where thread_id = $1 and checkpoint_ns = '' and checkpoint_id not in (
         select checkpoint_id from checkpoints where thread_id = $1 and checkpoint_ns = ''
         order by checkpoint_id desc limit $2)`,
      [threadId, keep],
    )
    await client.query(
      `delete from checkpoint_writes w where thread_id = $1 and not exists (
         select 1 from checkpoints c where c.thread_id = w.thread_id and c.checkpoint_ns = w.checkpoint_ns
           and c.checkpoint_id = w.checkpoint_id)`,
      [threadId],
    )
    await client.query(
      `delete from checkpoint_blobs b where thread_id = $1 and not exists (
         select 1 from checkpoints c where c.thread_id = b.thread_id and c.checkpoint_ns = b.checkpoint_ns
           and c.checkpoint -> 'channel_versions' ->> b.channel = b.version)`,
      [threadId],
    )
    await client.query('commit')
  } catch (err) {
    await client.query('rollback').catch(() => undefined)
    throw err
  } finally {
    client.release()
  }
}
