import { randomBytes } from 'node:crypto'
import type pg from 'pg'
import type { Database } from '../db/database.ts'
import type { Logger } from '../logger.ts'
import { newClaimant } from './leased-worker.ts'
import type { ClaimIdentity } from './leased-worker.ts'

export interface LivenessOptions {
  /** How often the lock is checked (a connection can break silently); default 10 s. */
  probeMs?: number
  /** First delay before re-acquiring a lost lock; doubled up to 5 s. Default 500 ms. */
  retryMs?: number
}

/** A bigint advisory lock ($1) in pg_locks: classid is its high 32 bits, objid its low ones, objsubid 1. */
const IS_OUR_KEY = `locktype = 'advisory' and objsubid = 1
    and classid = (($1::bigint >> 32) & 4294967295)::oid and objid = ($1::bigint & 4294967295)::oid`
const MY_LOCK = `select exists (
  select 1 from pg_locks
  where ${IS_OUR_KEY} and granted and pid = pg_backend_pid()
    and database = (select oid from pg_database where datname = current_database())) as held`

/**
 * A process's proof of life for its claims: a session advisory lock, keyed by a random bigint, held
 * for the whole life of the process; the claimant id ends in that key (`…#lock:<key>`), and the SQL
 * function `claim_held` (migration 0006) treats a claim as dead once its holder's lock is gone.
 *
 * Native Postgres: the lock sits on a connection of its own, taken from the pool and never given back
 * until `release()`. The server drops it the moment the process dies and the kernel closes its socket.
 * If that connection breaks while the process lives, the lock is taken again on a new connection
 * (an old session of ours that the server still keeps is terminated first); meanwhile the workers
 * claim nothing new. Residual risk: between the break and the new lock, other processes see this one
 * as dead and may take over its running claims. It learns so at its next lease renewal, and claims
 * are fenced by their claimant (a late completion is refused), but what the running job already did
 * or still does in that window (a message sent, an aider run) may happen twice. A connection that dies
 * silently is noticed by the probe within `probeMs`; until then this process still looks alive,
 * which is the lease's old behaviour, not a new risk.
 *
 * Embedded PGlite is one session in one process (db/dir-lock.ts keeps other processes out), so the
 * lock is taken with a plain query on the pool, never holding its only client; it ends with the
 * process, and a restart sees no lock of the dead one. There the connection cannot break.
 */
export class ProcessLiveness implements ClaimIdentity {
  readonly key = randomBytes(8).readBigInt64BE().toString()
  readonly claimant: string
  readonly #db: Pick<Database, 'pool' | 'kind'>
  readonly #log: Logger
  readonly #probeMs: number
  readonly #retryMs: number
  #client: pg.PoolClient | undefined
  #held = false
  #released = false
  #probe: NodeJS.Timeout | undefined
  #retry: NodeJS.Timeout | undefined
  #checking = false

  private constructor(db: Pick<Database, 'pool' | 'kind'>, log: Logger, opts: LivenessOptions) {
    this.#db = db
    this.#log = log
    this.#probeMs = opts.probeMs ?? 10_000
    this.#retryMs = opts.retryMs ?? 500
    this.claimant = `${newClaimant()}#lock:${this.key}`
  }

  /** Takes the lock; call once per process, after migrating (claims rely on `claim_held`). */
  static async acquire(db: Pick<Database, 'pool' | 'kind'>, log: Logger, opts: LivenessOptions = {}): Promise<ProcessLiveness> {
    const liveness = new ProcessLiveness(db, log, opts)
    await liveness.#take()
    liveness.#probe = setInterval(() => void liveness.#check(), liveness.#probeMs)
    liveness.#probe.unref()
    return liveness
  }

  get held(): boolean {
    return this.#held
  }

  /** Gives the lock up; from then on this process's remaining claims count as dead. */
  async release(): Promise<void> {
    this.#released = true
    clearInterval(this.#probe)
    clearTimeout(this.#retry)
    this.#held = false
    if (this.#db.kind === 'embedded') {
      await this.#db.pool.query('select pg_advisory_unlock($1::bigint)', [this.key]).catch(() => undefined)
      return
    }
    const client = this.#client
    this.#client = undefined
    if (!client) return
    try {
      await client.query('select pg_advisory_unlock($1::bigint)', [this.key])
      client.release()
    } catch {
      client.release(true) // ending the session frees the lock anyway
    }
  }

  async #take(): Promise<void> {
    if (this.#db.kind === 'embedded') {
      await this.#db.pool.query('select pg_advisory_lock($1::bigint)', [this.key])
      this.#held = true
      return
    }
    const client = await this.#db.pool.connect()
    // A checked-out client has no error listener of the pool's: without one, a broken connection
    // would crash the process.
    client.on('error', (err) => this.#broken(client, err))
    try {
      let ok = await this.#tryLock(client)
      if (!ok) {
        // Only an earlier session of ours can hold this random key: one the server has not yet
        // noticed is gone. End it, then take the lock.
        await client.query(
          `select pg_terminate_backend(pid) from pg_locks where ${IS_OUR_KEY} and pid <> pg_backend_pid()`,
          [this.key],
        )
        for (let i = 0; i < 20 && !ok; i++) {
          await new Promise((r) => setTimeout(r, 100))
          ok = await this.#tryLock(client)
        }
        if (!ok) throw new Error('the liveness lock is held by another session')
      }
    } catch (err) {
      client.release(true)
      throw err
    }
    if (this.#released) {
      client.release(true)
      return
    }
    this.#client = client
    this.#held = true
  }

  async #tryLock(client: pg.PoolClient): Promise<boolean> {
    // A session lock is re-entrant: take it only when this session does not hold it yet.
    const { rows } = await client.query<{ held: boolean }>(MY_LOCK, [this.key])
    if (rows[0]?.held) return true
    const taken = await client.query<{ ok: boolean }>('select pg_try_advisory_lock($1::bigint) as ok', [this.key])
    return taken.rows[0]?.ok === true
  }

  /** Checks that the lock is still ours (a connection can die without an error until it is used). */
  async #check(): Promise<void> {
    if (this.#released || this.#checking || !this.#held) return
    this.#checking = true
    try {
      if (this.#db.kind === 'embedded') {
        const { rows } = await this.#db.pool.query<{ held: boolean }>(MY_LOCK, [this.key])
        if (!rows[0]?.held && !this.#released) {
          this.#log.warn('the liveness lock was gone; taking it again')
          await this.#db.pool.query('select pg_advisory_lock($1::bigint)', [this.key])
        }
        return
      }
      const client = this.#client
      if (!client) return
      try {
        // pg honours a per-query read timeout that its types do not declare: a silently dead
        // connection fails the probe instead of hanging it.
        const probe: pg.QueryConfig & { query_timeout: number } = { text: MY_LOCK, values: [this.key], query_timeout: Math.max(1000, this.#probeMs / 2) }
        const { rows } = await client.query<{ held: boolean }>(probe)
        if (!rows[0]?.held && !(await this.#tryLock(client))) throw new Error('the liveness lock was lost and could not be taken again')
      } catch (err) {
        this.#broken(client, err)
      }
    } catch (err) {
      this.#log.warn({ err }, 'could not check the liveness lock')
    } finally {
      this.#checking = false
    }
  }

  #broken(client: pg.PoolClient, err: unknown): void {
    if (client !== this.#client || this.#released) return
    this.#client = undefined
    this.#held = false
    client.release(true)
    this.#log.error({ err }, 'liveness lock lost: until it is taken again, other processes may take over this one\'s claims')
    this.#retake(this.#retryMs)
  }

  #retake(delayMs: number): void {
    this.#retry = setTimeout(() => {
      this.#take().then(
        () => {
          if (this.#held) this.#log.info('liveness lock taken again')
        },
        (err: unknown) => {
          this.#log.warn({ err, retryInMs: Math.min(delayMs * 2, 5000) }, 'could not take the liveness lock again')
          if (!this.#released) this.#retake(Math.min(delayMs * 2, 5000))
        },
      )
    }, delayMs)
    this.#retry.unref()
  }
}
