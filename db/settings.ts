import type { Pool } from './database.ts'

/** Service settings admins change from Telegram; each overrides its environment default. */
export interface Settings {
  /** /model: the model agents use unless they name their own. */
  defaultModel: string
}

export async function getSetting<K extends keyof Settings>(pool: Pool, key: K): Promise<Settings[K] | undefined> {
  const { rows } = await pool.query<{ value: Settings[K] }>('select value from settings where key = $1', [key])
  return rows[0]?.value
}

export async function setSetting<K extends keyof Settings>(pool: Pool, key: K, value: Settings[K], by: number): Promise<void> {
  await pool.query(
    `insert into settings (key, value, updated_by) values ($1, $2, $3)
     on conflict (key) do update set value = excluded.value, updated_by = excluded.updated_by, updated_at = now()`,
    [key, JSON.stringify(value), by],
  )
}
