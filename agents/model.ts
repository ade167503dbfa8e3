import { ChatOpenAI } from '@langchain/openai'
import { KindedError } from '../domain/failure.ts'

export interface ModelSettings {
  apiKey: string
  baseUrl: string
  model: string
  timeoutMs: number
  maxRetries: number
}

/**
 * A chat model on any OpenAI-compatible endpoint (OpenRouter by default). 429, 5xx, timeouts and
 * unparseable responses are retried with exponential backoff by langchain's caller, `maxRetries` times.
 */
export function createChatModel(s: ModelSettings): ChatOpenAI {
  return new ChatOpenAI({
    model: s.model,
    apiKey: s.apiKey,
    configuration: { baseURL: s.baseUrl },
    maxRetries: s.maxRetries,
    timeout: s.timeoutMs,
  })
}

export type ModelFailure = 'timeout' | 'rate_limited' | 'unavailable' | 'bad_output' | 'rejected' | 'over_budget'

/** The model could not produce an answer, after retries. `kind` picks the sentence a person sees. */
export class ModelError extends KindedError<ModelFailure> {
  override name = 'ModelError'
}

/** A budget that was spent: whose, for which period, how much of how much, and when it starts again. */
export interface BudgetRefusal {
  scope: 'person' | 'agent' | 'task'
  /** The person's id, the agent's name, or the task's id. */
  subject: string
  period: 'day' | 'month' | 'task'
  spentUsd: number
  capUsd: number
  /** When the period ends (undefined for a task's budget, which does not reset). */
  resetsAt: Date | undefined
  timeZone: string
}

/**
 * No call was made: a budget is spent. A ModelError (kind `over_budget`), so every place that turns
 * a failed model call into a sentence for the chat handles it, and the dispatcher does not retry it.
 */
export class BudgetExceededError extends ModelError {
  override name = 'BudgetExceededError'
  readonly refusal: BudgetRefusal
  constructor(refusal: BudgetRefusal) {
    super('over_budget', `the ${refusal.scope} ${refusal.period} budget is spent (${refusal.spentUsd.toFixed(4)} of ${refusal.capUsd} USD)`)
    this.refusal = refusal
  }
}

/** Classifies whatever the model client threw into a ModelError. */
export function toModelError(err: unknown): ModelError {
  if (err instanceof ModelError) return err
  const e = err as { status?: unknown; name?: unknown; message?: unknown; code?: unknown }
  const status = typeof e?.status === 'number' ? e.status : undefined
  const name = typeof e?.name === 'string' ? e.name : ''
  const message = typeof e?.message === 'string' ? e.message : String(err)
  if (/timeout|timed out|abort/i.test(name) || /timed? ?out/i.test(message)) return new ModelError('timeout', 'model request timed out', { cause: err, status })
  if (status === 429) return new ModelError('rate_limited', 'model provider rate limit', { cause: err, status })
  if (status !== undefined && status >= 500) return new ModelError('unavailable', `model provider answered ${status}`, { cause: err, status })
  if (status !== undefined && status >= 400) return new ModelError('rejected', `model provider refused the request (${status})`, { cause: err, status })
  if (err instanceof SyntaxError || /json|parse|unexpected/i.test(message)) return new ModelError('bad_output', 'model returned malformed output', { cause: err, status })
  return new ModelError('unavailable', `model request failed: ${message}`, { cause: err, status })
}
