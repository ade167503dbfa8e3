import type { Pool } from './database.ts'

/**
 * The two commands @grammyjs/ratelimiter asks of a Redis client, on Postgres: a counter per key
 * that starts over once its window has passed, shared by every instance of the service.
 */
export function rateLimitStore(pool: Pool) {
  return {
    async incr(key: string): Promise<number> {
      const { rows } = await pool.query<{ hits: number }>(
        `insert into rate_limits (key, hits, expires_at) values ($1, 1, now() + interval '1 hour')
         on conflict (key) do update set
           hits = case when rate_limits.expires_at <= now() then 1 else rate_limits.hits + 1 end,
           expires_at = case when rate_limits.expires_at <= now() then now() + interval '1 hour' else rate_limits.expires_at end
         returning hits`,
        [key],
      )
      return rows[0]?.hits ?? 1
    },
    /** Called when a window starts (the first hit): sets its end, and drops long-expired counters. */
    async pexpire(key: string, ms: number): Promise<number> {
      const { rowCount } = await pool.query(`update rate_limits set expires_at = now() + $2 * interval '1 millisecond' where key = $1`, [key, ms])
      await pool.query(`delete from rate_limits where expires_at < now() - interval '1 day'`)
      return rowCount ?? 0
    },
  }
}
