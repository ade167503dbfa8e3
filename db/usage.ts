import type { CallCost, ModelCallReport } from '../domain/model-calls.ts'
import type { Pool } from './database.ts'

export async function recordModelCall(pool: Pool, c: ModelCallReport, cost: CallCost): Promise<void> {
  await pool.query(
    `insert into model_usage (user_id, chat_id, agent, model, input_tokens, output_tokens, ms, error, audio_seconds, cost_usd, cost_source, task_id)
     values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
    [c.userId, c.chatId, c.agent, c.model, c.inputTokens, c.outputTokens, Math.round(c.ms), c.error ?? null, c.audioSeconds ?? null, cost.usd, cost.source, c.taskId ?? null],
  )
}

export interface UsageLine {
  userId: number
  agent: string
  model: string
  /** Calls, tokens and speech in the last 30 days. */
  calls: number
  inputTokens: number
  outputTokens: number
  /** Speech transcribed (transcription calls), in seconds. */
  audioSeconds: number
  /** US dollars spent today, this month and in the last 30 days (calls with a known cost). */
  today: number
  month: number
  last30: number
  /** Calls in the last 30 days whose cost is unknown (no price for their model). */
  unknownCalls: number
}

/** Where the report's windows start: the person's today and this month (in their zone), and 30 days ago. */
export interface SpendWindows {
  today: Date
  month: Date
  last30: Date
}

/** Spend and tokens by agent and model (and person, when `userId` is not given), for /usage. */
export async function usageLines(pool: Pool, w: SpendWindows, userId?: number): Promise<UsageLine[]> {
  const since = w.month < w.last30 ? w.month : w.last30
  const { rows } = await pool.query<Record<keyof UsageLine, string | null>>(
    `select ${userId === undefined ? 'user_id' : '$5::bigint'} as "userId", agent, model,
            count(*) filter (where at >= $3) as calls,
            coalesce(sum(input_tokens) filter (where at >= $3), 0) as "inputTokens",
            coalesce(sum(output_tokens) filter (where at >= $3), 0) as "outputTokens",
            coalesce(sum(audio_seconds) filter (where at >= $3), 0) as "audioSeconds",
            coalesce(sum(cost_usd) filter (where at >= $1), 0) as today,
            coalesce(sum(cost_usd) filter (where at >= $2), 0) as month,
            coalesce(sum(cost_usd) filter (where at >= $3), 0) as last30,
            count(*) filter (where at >= $3 and cost_usd is null) as "unknownCalls"
     from model_usage where at >= $4 and error is null and ($5::bigint is null or user_id = $5)
     group by ${userId === undefined ? 'user_id, ' : ''}agent, model order by last30 desc, calls desc limit 50`,
    [w.today, w.month, w.last30, since, userId ?? null],
  )
  return rows.map((r) => ({
    userId: Number(r.userId),
    agent: String(r.agent),
    model: String(r.model),
    calls: Number(r.calls),
    inputTokens: Number(r.inputTokens),
    outputTokens: Number(r.outputTokens),
    audioSeconds: Number(r.audioSeconds),
    today: Number(r.today),
    month: Number(r.month),
    last30: Number(r.last30),
    unknownCalls: Number(r.unknownCalls),
  }))
}

/** Spend per day (in `timeZone`) since `since`: `YYYY-MM-DD` and US dollars, days without calls left out. */
export async function dailySpend(pool: Pool, since: Date, timeZone: string, userId?: number): Promise<Array<{ day: string; usd: number }>> {
  const { rows } = await pool.query<{ day: string; usd: string }>(
    `select to_char((at at time zone $2)::date, 'YYYY-MM-DD') as day, coalesce(sum(cost_usd), 0) as usd
     from model_usage where at >= $1 and error is null and ($3::bigint is null or user_id = $3)
     group by 1 order by 1`,
    [since, timeZone, userId ?? null],
  )
  return rows.map((r) => ({ day: r.day, usd: Number(r.usd) }))
}

/** The coder's tasks by what they cost since `since`, most first. */
export async function taskSpend(pool: Pool, since: Date, limit = 10): Promise<Array<{ taskId: string; usd: number; calls: number; unknownCalls: number }>> {
  const { rows } = await pool.query<{ taskId: string; usd: string; calls: string; unknownCalls: string }>(
    `select task_id as "taskId", coalesce(sum(cost_usd), 0) as usd, count(*) as calls, count(*) filter (where cost_usd is null) as "unknownCalls"
     from model_usage where task_id is not null and at >= $1 and error is null
     group by task_id order by usd desc limit $2`,
    [since, limit],
  )
  return rows.map((r) => ({ taskId: r.taskId, usd: Number(r.usd), calls: Number(r.calls), unknownCalls: Number(r.unknownCalls) }))
}

/** Failed model calls since `since` (for /status). */
export async function modelErrorsSince(pool: Pool, since: Date): Promise<number> {
  const { rows } = await pool.query<{ n: string }>('select count(*) as n from model_usage where error is not null and at >= $1', [since])
  return Number(rows[0]?.n ?? 0)
}
