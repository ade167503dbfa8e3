import type { ModelCallReport } from '../domain/model-calls.ts'
import type { Pool } from './database.ts'

export async function recordModelCall(pool: Pool, c: ModelCallReport): Promise<void> {
  await pool.query(
    `insert into model_usage (user_id, chat_id, agent, model, input_tokens, output_tokens, ms, error, audio_seconds) values ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
    [c.userId, c.chatId, c.agent, c.model, c.inputTokens, c.outputTokens, Math.round(c.ms), c.error ?? null, c.audioSeconds ?? null],
  )
}

export interface UsageLine {
  userId: number
  agent: string
  model: string
  calls: number
  inputTokens: number
  outputTokens: number
  /** Speech transcribed (transcription calls), in seconds. */
  audioSeconds: number
}

/** Tokens by person, agent and model since `since`; one person's when `userId` is given. */
export async function usageSince(pool: Pool, since: Date, userId?: number): Promise<UsageLine[]> {
  const { rows } = await pool.query<{ userId: string; agent: string; model: string; calls: string; inputTokens: string; outputTokens: string; audioSeconds: string | null }>(
    `select user_id as "userId", agent, model, count(*) as calls,
            sum(input_tokens) as "inputTokens", sum(output_tokens) as "outputTokens", sum(audio_seconds) as "audioSeconds"
     from model_usage where at >= $1 and error is null and ($2::bigint is null or user_id = $2)
     group by user_id, agent, model order by sum(input_tokens + output_tokens) desc limit 50`,
    [since, userId ?? null],
  )
  return rows.map((r) => ({ userId: Number(r.userId), agent: r.agent, model: r.model, calls: Number(r.calls), inputTokens: Number(r.inputTokens), outputTokens: Number(r.outputTokens), audioSeconds: Number(r.audioSeconds ?? 0) }))
}

/** Failed model calls since `since` (for /status). */
export async function modelErrorsSince(pool: Pool, since: Date): Promise<number> {
  const { rows } = await pool.query<{ n: string }>('select count(*) as n from model_usage where error is not null and at >= $1', [since])
  return Number(rows[0]?.n ?? 0)
}
