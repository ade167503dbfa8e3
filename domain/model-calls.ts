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

/** The provider's own figure for a call's cost, from an OpenAI-style usage block (OpenRouter adds `cost`). */
export function reportedCost(usage: unknown): number | undefined {
  const cost = (usage as { cost?: unknown } | undefined)?.cost
  return typeof cost === 'number' && Number.isFinite(cost) && cost >= 0 && cost < 1000 ? cost : undefined
}
