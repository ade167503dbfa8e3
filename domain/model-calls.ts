/** One model call as it is reported, for usage figures and error counts. */
export interface ModelCallReport {
  agent: string
  model: string
  chatId: number
  userId: number
  inputTokens: number
  outputTokens: number
  ms: number
  /** Speech transcribed, where the endpoint reports its length. */
  audioSeconds?: number | undefined
  /** What the provider said the call cost, in US dollars (OpenRouter's usage.cost); undefined: not reported. */
  cost?: number | undefined
  /** Where `cost` came from when it is not the provider's own figure: a price (aider computes its cost from ours). */
  costSource?: 'price' | undefined
  /** The coder task the call worked for (an aider run). */
  taskId?: string | undefined
  /** The kind of failure (a ModelFailure); undefined when the call succeeded. */
  error?: string | undefined
}

/** A recorded call's cost: reported by the provider, computed from a price, or unknown (null). */
export interface CallCost {
  usd: number | null
  source: 'provider' | 'price' | null
}

/**
 * The provider's own figure for a call's cost, from an OpenAI-style usage block (OpenRouter adds
 * `cost`). `inputTokens` is the call's input counted once: LangChain adds up a streamed call's usage
 * blocks when the provider sends its usage on a chunk that still carries a choice (OpenRouter does),
 * so the raw block's prompt tokens against it say how many copies were summed.
 */
export function reportedCost(usage: unknown, inputTokens?: number): number | undefined {
  const u = usage as { cost?: unknown; prompt_tokens?: unknown } | undefined
  const cost = u?.cost
  if (typeof cost !== 'number' || !Number.isFinite(cost) || cost < 0) return undefined
  const copies = typeof u?.prompt_tokens === 'number' && inputTokens && u.prompt_tokens > inputTokens ? Math.round(u.prompt_tokens / inputTokens) : 1
  const once = cost / Math.max(1, copies)
  return once < 1000 ? once : undefined
}
