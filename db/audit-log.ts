import type { Pool } from './database.ts'

export interface AuditEntry {
  action: string
  actorId?: number | undefined
  chatId?: number | undefined
  detail?: Record<string, unknown>
}

/** Appends one entry to the audit log. */
export async function audit(pool: Pool, entry: AuditEntry): Promise<void> {
  await pool.query('insert into audit_log (actor_id, chat_id, action, detail) values ($1, $2, $3, $4)', [
    entry.actorId ?? null,
    entry.chatId ?? null,
    entry.action,
    JSON.stringify(entry.detail ?? {}),
  ])
}

/** The newest entries first; for admins and tests. */
export async function recent(pool: Pool, limit = 50): Promise<Array<Required<AuditEntry> & { at: Date }>> {
  const { rows } = await pool.query<{ action: string; actorId: string | null; chatId: string | null; detail: Record<string, unknown>; at: Date }>(
    `select action, actor_id as "actorId", chat_id as "chatId", detail, at from audit_log order by id desc limit $1`,
    [limit],
  )
  return rows.map((r) => ({ ...r, actorId: Number(r.actorId), chatId: Number(r.chatId) }))
}
