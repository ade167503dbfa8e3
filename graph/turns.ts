import { HumanMessage, RemoveMessage, SystemMessage } from '@langchain/core/messages'
import type { BaseMessage } from '@langchain/core/messages'
import { Command, INTERRUPT, isInterrupted } from '@langchain/langgraph'
import { ModelError } from '../agents/model.ts'
import type { AgentTool } from '../agents/tools/tool.ts'
import type { Attachment } from '../domain/attachments.ts'
import type { ApprovalRequest } from '../domain/approvals.ts'
import type { ModelCallReport } from '../domain/model-calls.ts'
import { validateDecision } from './approval.ts'
import { AgentModels } from './agent-models.ts'
import type { BudgetCheck, ChatModel } from './agent-models.ts'
import { inlineContent } from './attachments.ts'
import type { AttachmentStore } from './attachments.ts'
import { streamingTokens } from './chat-graph.ts'
import type { ChatGraph, TurnContext } from './chat-graph.ts'
import type { Checkpointer } from './checkpointer.ts'
import { textOf } from './history.ts'
import { resolveAgent, toolIndex } from '../agents/roster.ts'
import type { AgentRoster } from '../agents/roster.ts'

export interface TurnInput extends TurnContext {
  threadId: string
  /** Unique per incoming message (the Telegram update id): makes a retried turn idempotent. */
  turnId: string
  text: string
  /** Photos and documents sent with the message: stored once, referenced from the thread. */
  attachments?: readonly Attachment[] | undefined
  /** The agent addressed; the default agent when unset. */
  agent?: string | undefined
  /** Called with the answer so far while the model streams it, and the agent writing it. */
  onText?: ((textSoFar: string, agent: string) => void) | undefined
}

/** How a run ended: with an agent's answer for the person, or waiting for a decision on an approval. */
export type TurnOutcome = { kind: 'answer'; text: string; agent?: string | undefined } | { kind: 'approval'; interruptId: string; request: ApprovalRequest }

export interface PendingApproval {
  interruptId: string
  request: ApprovalRequest
}

/** The answer to a turn already stored in the thread, if a previous attempt got that far. */
export function storedReply(messages: readonly BaseMessage[], turnMessageId: string): BaseMessage | undefined {
  const at = messages.findIndex((m) => m.id === turnMessageId)
  if (at < 0) return undefined
  return messages.slice(at + 1).findLast((m) => m.getType() === 'ai')
}

/** The agent of a streamed chunk, from the tag the graph's agent node puts on its model call. */
const config = (threadId: string, who?: TurnContext) => ({
  configurable: { thread_id: threadId, ...(who && { chat_id: who.chatId, user_id: who.userId, ...(who.hints && { hints: who.hints }) }) },
})

/** Runs turns on the checkpointed graph, one thread per chat (or forum topic). */
export class Turns {
  readonly #graph: ChatGraph
  readonly #checkpointer: Checkpointer
  readonly #models: AgentModels
  readonly #agents: AgentRoster
  readonly #tool: (name: string) => AgentTool | undefined
  readonly #attachments: AttachmentStore | undefined

  constructor(deps: {
    graph: ChatGraph
    checkpointer: Checkpointer
    model: ChatModel
    modelFor?: ((name: string) => ChatModel) | undefined
    agents: AgentRoster
    onModelCall?: ((call: ModelCallReport) => void) | undefined
    budget?: BudgetCheck | undefined
    attachments?: AttachmentStore | undefined
  }) {
    this.#graph = deps.graph
    this.#checkpointer = deps.checkpointer
    this.#models = new AgentModels(deps)
    this.#agents = deps.agents
    this.#tool = toolIndex(deps.agents)
    this.#attachments = deps.attachments
  }

  /**
   * Answers one message. A retry of a turn whose answer was already checkpointed (the process died
   * before the answer was sent) returns that answer without asking the model again (see routeTurn).
   * Never call this while the thread waits for a decision: see `pending` and `answerAside`.
   */
  async reply({ threadId, turnId, text, attachments = [], agent, chatId, userId, hints, onText }: TurnInput): Promise<TurnOutcome> {
    const messageId = `turn:${turnId}`
    if (attachments.length && !this.#attachments) throw new Error('attachments need an AttachmentStore')
    const content = this.#attachments ? await this.#attachments.content(threadId, turnId, text, attachments) : text
    const input = { messages: [new HumanMessage({ id: messageId, content })], activeAgent: agent ?? this.#agents.fallback }
    // 'exit': one checkpoint per turn instead of one per step; a crashed turn is simply re-run.
    const options = { ...config(threadId, { chatId, userId, hints }), durability: 'exit' as const }
    let result: Record<string, unknown>
    try {
      result = onText ? await this.#streamed(input, options, onText) : await this.#graph.invoke(input, options)
    } catch (err) {
      // A failed run still stores its input. A message the model refuses (an image for a text-only
      // model) would then be refused again with every later turn: take it back out of the thread.
      if (attachments.length && err instanceof ModelError && err.kind === 'rejected') await this.#withdraw(threadId, messageId)
      throw err
    }
    return this.#outcome(result, storedReply(result.messages as BaseMessage[], messageId))
  }

  async #withdraw(threadId: string, messageId: string): Promise<void> {
    const state = await this.#graph.getState(config(threadId))
    const messages = (state.values as { messages?: BaseMessage[] }).messages ?? []
    const gone = messages.filter((m) => m.id === messageId)
    if (gone.length === 0) return
    await this.#graph.updateState(config(threadId), { messages: gone.map((m) => new RemoveMessage({ id: m.id! })) })
    await this.#attachments?.dropped(threadId, gone)
  }

  /** Runs a turn while passing the answer on as it is written (each model call's text so far). */
  async #streamed(input: Parameters<ChatGraph['invoke']>[0], options: Parameters<ChatGraph['invoke']>[1], onText: NonNullable<TurnInput['onText']>): Promise<Record<string, unknown>> {
    const texts = new Map<string, string>() // by model call: a tool loop makes several
    return streamingTokens((agent, callId, piece) => {
      const soFar = (texts.get(callId) ?? '') + piece
      texts.set(callId, soFar)
      onText(soFar, agent)
    }, () => this.#graph.invoke(input, options))
  }

  /**
   * Resumes a thread waiting on `interruptId` with a person's decision, validated first. Returns
   * undefined when the thread no longer waits on that interrupt (the resume already happened).
   */
  async resume(threadId: string, interruptId: string, decision: unknown, who: TurnContext): Promise<TurnOutcome | undefined> {
    const pending = await this.pending(threadId)
    if (pending?.interruptId !== interruptId) return undefined
    const valid = validateDecision(decision, pending.request, this.#tool(pending.request.tool))
    // 'sync': the tool's run is checkpointed before the model is asked again.
    const result = await this.#graph.invoke(new Command({ resume: valid }), { ...config(threadId, who), durability: 'sync' })
    return this.#outcome(result, result.messages.at(-1))
  }

  /**
   * Runs `work` (a check with `pending` and then a turn) reading each thread's newest checkpoint from
   * the database once instead of twice.
   */
  sharingReads<T>(work: () => Promise<T>): Promise<T> {
    return this.#checkpointer.readOnce(work)
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
  async answerAside(threadId: string, text: string, waitingFor: ApprovalRequest, who: TurnContext, attachments: readonly Attachment[] = []): Promise<{ text: string; agent: string }> {
    const state = await this.#graph.getState(config(threadId))
    const values = state.values as { messages?: BaseMessage[]; activeAgent?: string }
    const history = (values.messages ?? []).slice(0, -1) // without the waiting tool call
    const agent = await resolveAgent(this.#agents, values.activeAgent)
    const note = `An action is waiting for the person's decision on the approval message above: ${waitingFor.description}. It stays pending; do not claim it was done.`
    const messages = [new SystemMessage(agent.systemPrompt), ...history, new SystemMessage(note), new HumanMessage({ content: inlineContent(text, attachments) })]
    const out = textOf(await this.#models.call(agent, this.#models.of(agent), messages, who)).trim()
    if (!out) throw new ModelError('bad_output', 'model returned an empty answer')
    return { text: out, agent: agent.name }
  }

  /** The tool of that name, if the agent has it (to validate an edited decision). */
  tool(name: string): AgentTool | undefined {
    return this.#tool(name)
  }

  /** Forgets a thread's checkpoints (after /new). */
  async forget(threadId: string): Promise<void> {
    await this.#checkpointer.deleteThread(threadId)
    await this.#attachments?.forget(threadId)
  }

  /** What a run ended with: an approval to ask for, or the answer (an empty one is the model's failure). */
  #outcome(result: Record<string, unknown>, answer: BaseMessage | undefined): TurnOutcome {
    if (isInterrupted<ApprovalRequest>(result)) {
      const first = result[INTERRUPT][0]
      if (first?.id && first.value) return { kind: 'approval', interruptId: first.id, request: first.value }
    }
    const text = textOf(answer).trim()
    if (!text) throw new ModelError('bad_output', 'model returned an empty answer')
    return { kind: 'answer', text, agent: answer?.name ?? this.#agents.fallback }
  }
}
