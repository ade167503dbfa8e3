import type { Pool } from './database.ts'

/** A tool a person allowed for one conversation. */
export interface ToolAllowance {
  threadId: string
  tool: string
  grantedBy: number
  chatId: number
  grantedAt: Date
}

/** Whether `tool` runs without asking in `threadId` (allowances are written by approvals.ts's `decide`, with the decision). */
export async function isToolAllowed(pool: Pool, threadId: string, tool: string): Promise<boolean> {
  const { rows } = await pool.query('select 1 from tool_allowances where thread_id = $1 and tool = $2', [threadId, tool])
  return rows.length > 0
}

/** The newest allowances, for /approvals. */
export async function listAllowances(pool: Pool, limit = 20): Promise<ToolAllowance[]> {
  const { rows } = await pool.query<{ threadId: string; tool: string; grantedBy: string; chatId: string; grantedAt: Date }>(
    `select thread_id as "threadId", tool, granted_by as "grantedBy", chat_id as "chatId", granted_at as "grantedAt"
     from tool_allowances order by granted_at desc limit $1`,
    [limit],
  )
  return rows.map((r) => ({ ...r, grantedBy: Number(r.grantedBy), chatId: Number(r.chatId) }))
}

/** Forgets a thread's allowances (/new). */
export async function forgetAllowances(pool: Pool, threadId: string): Promise<void> {
  await pool.query('delete from tool_allowances where thread_id = $1', [threadId])
}
