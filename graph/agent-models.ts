import type { AIMessage, BaseMessage } from '@langchain/core/messages'
import type { BaseChatModel } from '@langchain/core/language_models/chat_models'
import type { Runnable, RunnableConfig } from '@langchain/core/runnables'
import { toModelError } from '../agents/model.ts'
import type { AgentSpec } from '../agents/roster.ts'
import { reportedCost } from '../domain/model-calls.ts'
import type { ModelCallReport } from '../domain/model-calls.ts'
import type { AttachmentStore } from './attachments.ts'

/** Any langchain chat model (ChatOpenAI in production, fakes in tests). */
export type ChatModel = BaseChatModel

const nameOf = (model: ChatModel) => {
  const name = (model as { model?: unknown }).model
  return typeof name === 'string' ? name : 'default'
}

/** Checks the budgets that apply to a call before it is made; throws BudgetExceededError when one is spent. */
export type BudgetCheck = (who: { chatId: number; userId: number; agent: string }) => Promise<void>

/**
 * The models agents run on, and the one way they are called: the agent's own model (or the default),
 * every call reported (tokens and latency, or the kind of failure), and the model's failures turned
 * into ModelErrors. The graph's agent node and an answer beside a pending approval both call here.
 */
export class AgentModels {
  readonly #model: ChatModel
  readonly #modelFor: ((name: string) => ChatModel) | undefined
  readonly #onModelCall: ((call: ModelCallReport) => void) | undefined
  readonly #attachments: AttachmentStore | undefined
  readonly #budget: BudgetCheck | undefined

  constructor(o: {
    model: ChatModel
    modelFor?: ((name: string) => ChatModel) | undefined
    onModelCall?: ((call: ModelCallReport) => void) | undefined
    attachments?: AttachmentStore | undefined
    budget?: BudgetCheck | undefined
  }) {
    this.#model = o.model
    this.#modelFor = o.modelFor
    this.#onModelCall = o.onModelCall
    this.#attachments = o.attachments
    this.#budget = o.budget
  }

  /** The model `agent` runs on. */
  of(agent: AgentSpec): ChatModel {
    return agent.model && this.#modelFor ? this.#modelFor(agent.model) : this.#model
  }

  /** Calls `runnable` (the agent's model, perhaps with tools bound) for `who`, with attachments resolved, and reports the call. */
  async call(agent: AgentSpec, runnable: Runnable<BaseMessage[], BaseMessage>, messages: BaseMessage[], who: { chatId: number; userId: number }, options?: RunnableConfig): Promise<BaseMessage> {
    // Before anything is sent: over a budget, this throws BudgetExceededError and no request is made.
    await this.#budget?.({ ...who, agent: agent.name })
    const started = performance.now()
    const report = (fields: Pick<ModelCallReport, 'inputTokens' | 'outputTokens' | 'error' | 'cost'>) =>
      this.#onModelCall?.({ agent: agent.name, model: agent.model ?? nameOf(this.#model), ...who, ms: performance.now() - started, ...fields })
    // Stored photos and documents become what the model reads; outside the try: a database error is not the model's.
    const input = this.#attachments ? await this.#attachments.resolve(messages) : messages
    try {
      const answer = await runnable.invoke(input, options)
      const usage = (answer as AIMessage).usage_metadata
      report({ inputTokens: usage?.input_tokens ?? 0, outputTokens: usage?.output_tokens ?? 0, cost: reportedCost((answer.response_metadata as { usage?: unknown } | undefined)?.usage, usage?.input_tokens) })
      return answer
    } catch (err) {
      // Only the model's failures become ModelErrors; a database error must reach the dispatcher's retry.
      const failure = toModelError(err)
      report({ inputTokens: 0, outputTokens: 0, error: failure.kind })
      throw failure
    }
  }
}
