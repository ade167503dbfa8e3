import { HumanMessage, SystemMessage } from '@langchain/core/messages'
import type { BaseMessage } from '@langchain/core/messages'
import { Command, INTERRUPT, isInterrupted } from '@langchain/langgraph'
import type { PostgresSaver } from '@langchain/langgraph-checkpoint-postgres'
import type pg from 'pg'
import { ModelError, toModelError } from '../agents/model.ts'
import type { AgentTool } from '../agents/tools/tool.ts'
import { validateDecision } from './approval.ts'
import type { ApprovalRequest } from './approval.ts'
import type { AgentSpec, ChatGraph, ChatGraphOptions, ChatModel, TurnContext } from './chat-graph.ts'
import { pruneThread } from './checkpointer.ts'
import { textOf } from './history.ts'

export interface TurnInput extends TurnContext {
  threadId: string
  /** Unique per incoming message (the Telegram update id): makes a retried turn idempotent. */
  turnId: string
  text: string
  /** The agent addressed; the default agent when unset. */
  agent?: string | undefined
}

/** How a run ended: with an answer for the person, or waiting for a decision on an approval. */
export type TurnOutcome = { kind: 'answer'; text: string } | { kind: 'approval'; interruptId: string; request: ApprovalRequest }

export interface PendingApproval {
  interruptId: string
  request: ApprovalRequest
}

/** The answer to a turn already stored in the thread, if a previous attempt got that far. */
export function storedReply(messages: readonly BaseMessage[], turnMessageId: string): string | undefined {
  const at = messages.findIndex((m) => m.id === turnMessageId)
  if (at < 0) return undefined
  const answer = messages.slice(at + 1).findLast((m) => m.getType() === 'ai')
  return answer ? textOf(answer) : undefined
}

const config = (threadId: string, who?: TurnContext) => ({
  configurable: { thread_id: threadId, ...(who && { chat_id: who.chatId, user_id: who.userId }) },
})

/** Runs conversation turns on the checkpointed graph, one thread per chat. */
export class Conversation {
  readonly #graph: ChatGraph
  readonly #checkpointer: PostgresSaver
  readonly #pool: pg.Pool
  readonly #model: ChatModel
  readonly #agents: Map<string, AgentSpec>
  readonly #default: AgentSpec
  readonly #tools: Map<string, AgentTool>

  constructor(deps: { graph: ChatGraph; checkpointer: PostgresSaver; pool: pg.Pool; model: ChatModel; agents: ChatGraphOptions['agents'] }) {
    this.#graph = deps.graph
    this.#checkpointer = deps.checkpointer
    this.#pool = deps.pool
    this.#model = deps.model
    this.#default = deps.agents[0]
    this.#agents = new Map(deps.agents.map((a) => [a.name, a]))
    this.#tools = new Map(deps.agents.flatMap((a) => a.tools ?? []).map((t) => [t.name, t]))
  }

  /** Whether an agent of that name takes part. */
  hasAgent(name: string): boolean {
    return this.#agents.has(name)
  }

  /**
   * Answers one message. A retry of a turn whose answer was already checkpointed (the process died
   * before the answer was sent) returns that answer without asking the model again (see routeTurn).
   * Never call this while the thread waits for a decision: see `pending` and `answerAside`.
   */
  async reply({ threadId, turnId, text, agent, chatId, userId }: TurnInput): Promise<TurnOutcome> {
    const messageId = `turn:${turnId}`
    // 'exit': one checkpoint per turn instead of one per step; a crashed turn is simply re-run.
    const result = await this.#graph.invoke(
      { messages: [new HumanMessage({ id: messageId, content: text })], activeAgent: agent ?? this.#default.name },
      { ...config(threadId, { chatId, userId }), durability: 'exit' },
    )
    return this.#outcome(threadId, result, storedReply(result.messages, messageId))
  }

  /**
   * Resumes a thread waiting on `interruptId` with a person's decision, validated first. Returns
   * undefined when the thread no longer waits on that interrupt (the resume already happened).
   */
  async resume(threadId: string, interruptId: string, decision: unknown, who: TurnContext): Promise<TurnOutcome | undefined> {
    const pending = await this.pending(threadId)
    if (pending?.interruptId !== interruptId) return undefined
    const valid = validateDecision(decision, pending.request, this.#tools.get(pending.request.tool))
    // 'sync': the tool's run is checkpointed before the model is asked again.
    const result = await this.#graph.invoke(new Command({ resume: valid }), { ...config(threadId, who), durability: 'sync' })
    return this.#outcome(threadId, result, textOf(result.messages.at(-1)))
  }

  /** The interrupt the thread waits on, if any. */
  async pending(threadId: string): Promise<PendingApproval | undefined> {
    const state = await this.#graph.getState(config(threadId))
    const found = state.tasks.flatMap((t) => t.interrupts).find((i) => i.id !== undefined)
    return found ? { interruptId: found.id!, request: found.value as ApprovalRequest } : undefined
  }

  /**
   * Answers a message while the thread waits for a decision, without touching the thread: a new
   * message in an interrupted thread would drop the interrupt and leave a tool call without result.
   */
  async answerAside(threadId: string, text: string, waitingFor: ApprovalRequest): Promise<string> {
    const state = await this.#graph.getState(config(threadId))
    const values = state.values as { messages?: BaseMessage[]; activeAgent?: string }
    const history = (values.messages ?? []).slice(0, -1) // without the waiting tool call
    const agent = this.#agents.get(values.activeAgent ?? '') ?? this.#default
    const note = `An action is waiting for the person's decision on the approval message above: ${waitingFor.description}. It stays pending; do not claim it was done.`
    try {
      const answer = await this.#model.invoke([new SystemMessage(agent.systemPrompt), ...history, new SystemMessage(note), new HumanMessage(text)])
      const out = textOf(answer).trim()
      if (!out) throw new ModelError('bad_output', 'model returned an empty answer')
      return out
    } catch (err) {
      throw toModelError(err)
    }
  }

  /** The tool of that name, if the agent has it (to validate an edited decision). */
  tool(name: string): AgentTool | undefined {
    return this.#tools.get(name)
  }

  /** Forgets a thread's checkpoints (after /new). */
  async forget(threadId: string): Promise<void> {
    await this.#checkpointer.deleteThread(threadId)
  }

  async #outcome(threadId: string, result: Record<string, unknown>, answer: string | undefined): Promise<TurnOutcome> {
    if (isInterrupted<ApprovalRequest>(result)) {
      const first = result[INTERRUPT][0]
      if (first?.id && first.value) return { kind: 'approval', interruptId: first.id, request: first.value }
    }
    const text = (answer ?? '').trim()
    if (!text) throw new ModelError('bad_output', 'model returned an empty answer')
    await pruneThread(this.#pool, threadId)
    return { kind: 'answer', text }
  }
}
