import type { Pool } from './database.ts'

/** Long-expired counters are deleted at most this often (by whichever instance counts then). */
const SWEEP_EVERY_MS = 10 * 60_000

/**
 * The two commands @grammyjs/ratelimiter asks of a Redis client, on Postgres: a counter per key
 * that starts over once its window (`windowMs`) has passed, shared by every instance of the service.
 * A counter's window is set by the statement that counts, so a message costs one statement: the
 * limiter's `pexpire` on the first hit of a window has nothing left to do but the occasional sweep.
 */
export function rateLimitStore(pool: Pool, windowMs: number) {
  let lastSweep = 0
  return {
    async incr(key: string): Promise<number> {
      const { rows } = await pool.query<{ hits: number }>(
        `insert into rate_limits (key, hits, expires_at) values ($1, 1, now() + $2 * interval '1 millisecond')
         on conflict (key) do update set
           hits = case when rate_limits.expires_at <= now() then 1 else rate_limits.hits + 1 end,
           expires_at = case when rate_limits.expires_at <= now() then excluded.expires_at else rate_limits.expires_at end
         returning hits`,
        [key, windowMs],
      )
      return rows[0]?.hits ?? 1
    },
    /** Called when a window starts (the first hit): its end is already set; now and then, long-expired counters go. */
    async pexpire(): Promise<number> {
      if (Date.now() - lastSweep > SWEEP_EVERY_MS) {
        lastSweep = Date.now()
        await pool.query(`delete from rate_limits where expires_at < now() - interval '1 day'`)
      }
      return 1
    },
  }
}
