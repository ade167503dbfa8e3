import type { Pool } from './database.ts'

/**
 * A key-value store in Postgres for @grammyjs/conversations: a wizard's replay log survives a
 * restart or a redeploy in the middle.
 */
export function wizardStorage<S>(pool: Pool) {
  return {
    async read(key: string): Promise<S | undefined> {
      const { rows } = await pool.query<{ value: S }>('select value from wizard_state where key = $1', [key])
      return rows[0]?.value
    },
    async write(key: string, value: S): Promise<void> {
      await pool.query(
        `insert into wizard_state (key, value) values ($1, $2)
         on conflict (key) do update set value = excluded.value, updated_at = now()`,
        [key, JSON.stringify(value)],
      )
    },
    async delete(key: string): Promise<void> {
      await pool.query('delete from wizard_state where key = $1', [key])
    },
  }
}
