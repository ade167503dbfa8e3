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
  /** The kind of failure (a ModelFailure); undefined when the call succeeded. */
  error?: string | undefined
}
