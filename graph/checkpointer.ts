import { AsyncLocalStorage } from 'node:async_hooks'
import type { RunnableConfig } from '@langchain/core/runnables'
import { PostgresSaver } from '@langchain/langgraph-checkpoint-postgres'
import type pg from 'pg'

// The saver's own types, taken from its methods (their package is a dependency of a dependency).
type PutArgs = Parameters<PostgresSaver['put']>
type CheckpointTuple = NonNullable<Awaited<ReturnType<PostgresSaver['getTuple']>>>
type PendingWrite = Parameters<PostgresSaver['putWrites']>[1]

/**
 * LangGraph's own Postgres checkpointer (its tables, its serialization, its reads), with a write
 * that costs one statement instead of nine and keeps a thread to its newest checkpoint:
 *
 * - `put` inserts the changed channels' blobs and the checkpoint, and deletes the thread's older
 *   checkpoints with the writes and blobs only they used, in one statement (one statement is one
 *   transaction). PostgresSaver sends BEGIN, one insert per blob, the checkpoint and COMMIT, and never
 *   prunes, so every turn added a checkpoint; pruning took five more statements in a transaction of
 *   its own, on the way to the reply.
 * - Channels without a value ("empty": the graph's start and branch channels) are not written: the
 *   saver's reads skip them anyway (`_loadBlobs`), and a missing row reads the same as an empty one.
 * - Within `readOnce`, the thread's newest checkpoint is read from the database once: a turn asks
 *   whether the thread waits for a decision and then runs the graph, which reads it again.
 *
 * Only the newest checkpoint is ever read (the service never travels back in a thread's history),
 * and one lane runs a thread's turns one at a time, so nothing reads what a prune removes.
 */
export class Checkpointer extends PostgresSaver {
  readonly #pool: pg.Pool
  readonly #reads = new AsyncLocalStorage<Map<string, Promise<CheckpointTuple | undefined>>>()

  constructor(pool: pg.Pool) {
    super(pool)
    this.#pool = pool
  }

  /** Runs `work` with the newest checkpoint of each thread read once and shared until the next write. */
  readOnce<T>(work: () => Promise<T>): Promise<T> {
    return this.#reads.run(new Map(), work)
  }

  override async getTuple(config: RunnableConfig): Promise<CheckpointTuple | undefined> {
    const reads = this.#reads.getStore()
    const { thread_id, checkpoint_ns = '', checkpoint_id } = (config.configurable ?? {}) as Record<string, string | undefined>
    if (!reads || checkpoint_id !== undefined || thread_id === undefined) return super.getTuple(config)
    const key = `${thread_id}\u0000${checkpoint_ns}`
    const shared = reads.get(key)
    if (shared) {
      // Shared once: the graph's run may change what it was given, so a third read goes to the database.
      reads.delete(key)
      return shared
    }
    // A checkpoint with pending writes (a resume cut short) is not shared: reading its state applies
    // them to the tuple it was given, and the run must start from the stored one.
    const read = super.getTuple(config).then((tuple) => {
      if (tuple?.pendingWrites?.length) reads.delete(key)
      return tuple
    })
    reads.set(key, read)
    return read
  }

  override async put(config: PutArgs[0], checkpoint: PutArgs[1], metadata: PutArgs[2], newVersions: PutArgs[3]): Promise<RunnableConfig> {
    const { thread_id, checkpoint_ns = '', checkpoint_id } = (config.configurable ?? {}) as Record<string, string | undefined>
    if (thread_id === undefined) throw new Error('Missing "thread_id" in the checkpoint config')
    this.#forget(thread_id)
    const blobs = await this._dumpBlobs(thread_id, checkpoint_ns, checkpoint.channel_values, newVersions)
    const meta: unknown = await this._dumpMetadata(metadata)
    const written = blobs.filter((b) => b[4] !== 'empty')
    const saved = this._dumpCheckpoint(checkpoint)
    await this.#pool.query(
      `with blobs as (
         insert into checkpoint_blobs (thread_id, checkpoint_ns, channel, version, type, blob)
         select $1, $2, b.channel, b.version, b.type, b.blob
         from unnest($7::text[], $8::text[], $9::text[], $10::bytea[]) as b(channel, version, type, blob)
         on conflict (thread_id, checkpoint_ns, channel, version) do nothing),
       saved as (
         insert into checkpoints (thread_id, checkpoint_ns, checkpoint_id, parent_checkpoint_id, checkpoint, metadata)
         values ($1, $2, $3, $4, $5, $6)
         on conflict (thread_id, checkpoint_ns, checkpoint_id) do update set checkpoint = excluded.checkpoint, metadata = excluded.metadata),
       older as (
         delete from checkpoints where thread_id = $1 and checkpoint_ns = $2 and checkpoint_id <> $3),
       older_writes as (
         delete from checkpoint_writes where thread_id = $1 and checkpoint_ns = $2 and checkpoint_id <> $3)
       -- blobs of versions the new checkpoint does not name (this statement's own inserts are not
       -- visible to it, so they stay)
       delete from checkpoint_blobs b where b.thread_id = $1 and b.checkpoint_ns = $2
         and b.version is distinct from ($5::jsonb -> 'channel_versions' ->> b.channel)`,
      [
        thread_id,
        checkpoint_ns,
        checkpoint.id,
        checkpoint_id ?? null,
        saved,
        meta,
        written.map((b) => b[2]),
        written.map((b) => b[3]),
        written.map((b) => b[4]),
        written.map((b) => (b[5] ? Buffer.from(b[5]) : null)),
      ],
    )
    return { configurable: { thread_id, checkpoint_ns, checkpoint_id: checkpoint.id } }
  }

  override async putWrites(config: RunnableConfig, writes: PendingWrite, taskId: string): Promise<void> {
    const threadId = config.configurable?.thread_id as string | undefined
    if (threadId !== undefined) this.#forget(threadId)
    return super.putWrites(config, writes, taskId)
  }

  override async deleteThread(threadId: string): Promise<void> {
    this.#forget(threadId)
    return super.deleteThread(threadId)
  }

  #forget(threadId: string): void {
    const reads = this.#reads.getStore()
    for (const key of reads?.keys() ?? []) if (key.startsWith(`${threadId}\u0000`)) reads?.delete(key)
  }
}

/** LangGraph's checkpointer on the service's pool. Call `setup()` once (the migrate step does). */
export function createCheckpointer(pool: pg.Pool): Checkpointer {
  return new Checkpointer(pool)
}
