import type { Database } from '../db/database.ts'

export interface HeldLock {
  release(): Promise<void>
}

/**
 * One holder per repository across every instance: a Postgres session advisory lock on a
 * connection of its own, held for the whole task (Postgres frees it when the holder's connection
 * dies with its process), plus an in-process queue so tasks of one process wait in order. The
 * embedded database is one session in one process (its data directory is locked), so there the
 * in-process queue is the whole lock.
 */
export class GitLock {
  readonly #db: Database
  readonly #tails = new Map<string, Promise<void>>()
  readonly #pollMs: number

  constructor(db: Database, pollMs = 500) {
    this.#db = db
    this.#pollMs = pollMs
  }

  /**
   * Waits for the lock on `key`; `onWait` is called once if it has to wait (to show "waiting for
   * the repository"). An aborted signal stops the wait.
   */
  async acquire(key: string, opts: { onWait?: () => void; signal?: AbortSignal } = {}): Promise<HeldLock> {
    let releaseLocal!: () => void
    const queued = this.#tails.get(key) // set while a task of this process holds or waits for the key
    const previous = queued ?? Promise.resolve()
    const mine = new Promise<void>((resolve) => (releaseLocal = resolve))
    const tail = previous.then(() => mine)
    this.#tails.set(key, tail)
    let waited = false
    const markWait = () => {
      if (!waited) opts.onWait?.()
      waited = true
    }
    if (queued) markWait()
    try {
      await abortable(previous, opts.signal)
    } catch (err) {
      // Leave the queue without breaking it: whoever waits behind us goes on once `previous` is done.
      void previous.then(() => {
        releaseLocal()
        if (this.#tails.get(key) === tail) this.#tails.delete(key)
      })
      throw err
    }
    const finishLocal = () => {
      releaseLocal()
      if (this.#tails.get(key) === tail) this.#tails.delete(key)
    }
    if (this.#db.kind === 'embedded') return { release: () => Promise.resolve(finishLocal()) }

    const client = await this.#db.pool.connect()
    try {
      for (;;) {
        opts.signal?.throwIfAborted()
        const { rows } = await client.query<{ ok: boolean }>('select pg_try_advisory_lock(hashtextextended($1, 0)) as ok', [`git:${key}`])
        if (rows[0]?.ok) break
        markWait()
        await new Promise((r) => setTimeout(r, this.#pollMs))
      }
    } catch (err) {
      client.release()
      finishLocal()
      throw err
    }
    return {
      release: async () => {
        try {
          await client.query('select pg_advisory_unlock(hashtextextended($1, 0))', [`git:${key}`])
          client.release()
        } catch {
          client.release(true) // a broken connection is discarded, and with it the lock
        } finally {
          finishLocal()
        }
      },
    }
  }
}

/** Waits for `promise`, or rejects with the signal's reason as soon as it is aborted. */
function abortable<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise
  signal.throwIfAborted()
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason as Error)
    signal.addEventListener('abort', onAbort, { once: true })
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort))
  })
}
