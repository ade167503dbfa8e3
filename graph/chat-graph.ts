import { AsyncLocalStorage } from 'node:async_hooks'
import { BaseCallbackHandler } from '@langchain/core/callbacks/base'
import { RemoveMessage, SystemMessage, ToolMessage } from '@langchain/core/messages'
import type { AIMessage, BaseMessage } from '@langchain/core/messages'
import type { Runnable } from '@langchain/core/runnables'
import { Annotation, END, MessagesAnnotation, START, StateGraph, interrupt } from '@langchain/langgraph'
import type { LangGraphRunnableConfig } from '@langchain/langgraph'
import { toFunctionDefinition } from '../agents/tools/tool.ts'
import { ModelError } from '../agents/model.ts'
import type { AgentTool, ToolContext, TurnHints } from '../agents/tools/tool.ts'
import { decisionSchema } from '../domain/approvals.ts'
import type { ApprovalRequest, Decision } from '../domain/approvals.ts'
import type { ModelCallReport } from '../domain/model-calls.ts'
import { AgentModels } from './agent-models.ts'
import type { BudgetCheck, ChatModel } from './agent-models.ts'
import type { AttachmentStore } from './attachments.ts'
import { messagesToDrop, textOf } from './history.ts'
import { HANDOFF_TOOL, addressedAgent, handoffTool, resolveAgent, toolIndex } from '../agents/roster.ts'
import type { AgentRoster, AgentSpec } from '../agents/roster.ts'

export const ChatState = Annotation.Root({
  ...MessagesAnnotation.spec,
  /** Decisions on tool calls by tool_call_id; `null` clears them at the start of a turn. */
  decisions: Annotation<Record<string, Decision>, Record<string, Decision> | null>({
    reducer: (current, update) => (update === null ? {} : { ...current, ...update }),
    default: () => ({}),
  }),
  /** The agent answering this turn: the turn's input names it, `@name` or a handoff changes it. */
  activeAgent: Annotation<string, string | undefined>({
    reducer: (current, update) => update ?? current,
    default: () => '',
  }),
  /**
   * The hints the conversation's last turn that had any gave (the repository a /code named): they
   * hold for the turns after it, so a plan proposed after a clarifying question still goes there.
   */
  hints: Annotation<TurnHints, TurnHints | undefined>({
    reducer: (current, update) => update ?? current,
    default: () => ({}),
  }),
})
export type State = typeof ChatState.State
type Update = typeof ChatState.Update

export type { ChatModel } from './agent-models.ts'

export interface ChatGraphOptions {
  /** The default model; agents that name a model get theirs from `modelFor`. */
  model: ChatModel
  modelFor?: ((name: string) => ChatModel) | undefined
  /** Who may answer: the built-in agents and those people define. */
  agents: AgentRoster
  /** Most messages kept in the thread's state; older ones are removed from the checkpoint itself. */
  maxMessages: number
  /** What the agent recalls before answering a person's message (long-term memories), as a note for it. */
  recall?: (who: { userId: number; chatId: number; agent: string }, text: string) => Promise<string | undefined>
  /** Told of every model call (never throws into the turn). */
  onModelCall?: ((call: ModelCallReport) => void) | undefined
  /** Checked before every model call (each step of a tool loop too): a spent budget stops the turn. */
  budget?: BudgetCheck | undefined
  /** Where photos and documents of the conversation are kept; their references are resolved before each model call. */
  attachments?: AttachmentStore | undefined
  /** Whether a person allowed `tool` for the whole conversation: then it runs without asking. */
  allowedInThread?: ((threadId: string, tool: string) => Promise<boolean>) | undefined
}

/** What the graph reads from `configurable`, besides the thread: who the tools act for. */
export interface TurnContext {
  chatId: number
  userId: number
  /** What the turn says beyond its words (the repository a /code names), given to tools' `fromTurn`. */
  hints?: TurnHints | undefined
}

/**
 * Where a turn starts. The person's message carries a stable id, and the messages reducer replaces a
 * message with a known id in place: so if it is not the last message, this turn was answered before
 * (a retry after a crash) and the model is not asked again.
 */
export function routeTurn(state: Pick<State, 'messages'>): 'route' | typeof END {
  return state.messages.at(-1)?.getType() === 'human' ? 'route' : END
}

/** The turn's hints applied to the calls of tools that take them (their `fromTurn`). */
type ToolCalls = NonNullable<AIMessage['tool_calls']>
function withHints(calls: ToolCalls, tools: readonly AgentTool[], hints: TurnHints): ToolCalls {
  return calls.map((call) => {
    const fill = tools.find((t) => t.name === call.name)?.fromTurn
    return fill ? { ...call, args: fill(call.args, hints) } : call
  })
}

const pendingCalls = (state: Pick<State, 'messages'>) => {
  const last = state.messages.at(-1)
  return last?.getType() === 'ai' ? ((last as AIMessage).tool_calls ?? []) : []
}

/**
 * After the model (or a decision): run the tools once every call that needs a person's approval has
 * a decision, ask for the next missing one first, or end when the model called no tool.
 */
export function routeAfterAgent(state: Pick<State, 'messages' | 'decisions'>, needsApproval: (tool: string) => boolean): 'review' | 'tools' | typeof END {
  const calls = pendingCalls(state)
  if (calls.length === 0) return END
  return calls.some((c) => needsApproval(c.name) && !state.decisions[c.id ?? '']) ? 'review' : 'tools'
}

const definitions = new WeakMap<AgentTool, ReturnType<typeof toFunctionDefinition>>()
const definitionOf = (tool: AgentTool) => {
  let found = definitions.get(tool)
  if (!found) definitions.set(tool, (found = toFunctionDefinition(tool)))
  return found
}

/** Extra tries of a model call whose answer arrived broken (a stream the client cannot retry). */
const STREAM_RETRIES = 1

/** Hand-offs since the person's message: capped, so two agents cannot pass a turn back and forth forever. */
const MAX_HANDOFFS = 2
const handoffsThisTurn = (messages: readonly BaseMessage[]) => {
  const since = messages.findLastIndex((m) => m.getType() === 'human')
  return messages.slice(since + 1).flatMap((m) => (m.getType() === 'ai' ? ((m as AIMessage).tool_calls ?? []) : [])).filter((c) => c.name === HANDOFF_TOOL).length
}

/** Where a streamed turn's text goes as the model writes it: agent, the model call's id, the new piece. */
export type TokenSink = (agent: string, callId: string, piece: string) => void

const tokenSinks = new AsyncLocalStorage<TokenSink>()

/**
 * Runs `work` (a graph run) with the agents' model calls streaming their text to `sink`. Only the
 * model calls get a handler: LangGraph's 'messages' stream mode, used before, put a callback handler
 * on every node, channel write and branch of the run (about a tenth of a turn's CPU, measured).
 */
export function streamingTokens<T>(sink: TokenSink, work: () => Promise<T>): Promise<T> {
  return tokenSinks.run(sink, work)
}

/** Passes a model call's tokens to the sink; `lc_prefer_streaming` makes the chat model stream. */
class TokenHandler extends BaseCallbackHandler {
  name = 'mechanic_tokens'
  lc_prefer_streaming = true
  readonly #sink: TokenSink
  readonly #agent: string

  constructor(sink: TokenSink, agent: string) {
    super()
    this.#sink = sink
    this.#agent = agent
  }

  override handleLLMNewToken(token: string, _idx: unknown, runId: string): void {
    if (token) this.#sink(this.#agent, runId, token)
  }
}

/**
 * The conversation graph, an orchestrator of several agents: route the person's message to the agent
 * it addresses (`@name`) or to the one the turn names (the chat's active agent, or /code), trim the
 * stored history, ask that agent's model, and run the tools it calls, each risky one only after an
 * interrupt brought back a person's decision. An agent may hand the turn to another. Exported
 * uncompiled so a caller (or a test) compiles it with its own checkpointer.
 */
export function buildChatGraph({ model, modelFor, agents, maxMessages, recall, onModelCall, attachments, allowedInThread, budget }: ChatGraphOptions) {
  const toolNamed = toolIndex(agents)
  const needsApproval = (name: string) => toolNamed(name)?.approval !== undefined
  const models = new AgentModels({ model, modelFor, onModelCall, attachments, budget })
  const agentFor = (state: Pick<State, 'activeAgent'>) => resolveAgent(agents, state.activeAgent)

  /** Routing needs no model: an explicit `@name` wins, else the agent the turn's input named. */
  async function route(state: State, config: LangGraphRunnableConfig): Promise<Update> {
    const drop = messagesToDrop(state.messages, maxMessages)
    // Idempotent: a retried turn drops the same messages again.
    await attachments?.dropped(String(config.configurable?.thread_id), drop)
    const addressed = addressedAgent(textOf(state.messages.at(-1)))
    const agent = addressed && (await agents.get(addressed)) ? addressed : undefined
    const hints = config.configurable?.hints as TurnHints | undefined
    return { messages: drop.map((m) => new RemoveMessage({ id: m.id ?? '' })), decisions: null, ...(agent && { activeAgent: agent }), ...(hints && { hints }) }
  }

  // One recall per person's message, also across the model calls that follow its tool calls.
  const recalled = new Map<string, Promise<string | undefined>>()
  function recallFor(state: State, config: LangGraphRunnableConfig, agentName: string): Promise<string | undefined> {
    const question = state.messages.findLast((m) => m.getType() === 'human')
    if (!recall || !question) return Promise.resolve(undefined)
    const key = `${String(config.configurable?.thread_id)}:${question.id ?? ''}:${agentName}`
    let found = recalled.get(key)
    if (!found) {
      const who = { userId: Number(config.configurable?.user_id ?? 0), chatId: Number(config.configurable?.chat_id ?? 0), agent: agentName }
      found = recall(who, textOf(question))
      recalled.set(key, found)
      if (recalled.size > 500) recalled.delete(recalled.keys().next().value!)
    }
    return found
  }

  /** The agent's tools, with the hand-off to the others while the turn may still hand off. */
  async function toolsOf(spec: AgentSpec, mayHandOff: boolean): Promise<AgentTool[]> {
    const others = mayHandOff ? (await agents.list()).filter((a) => a.name !== spec.name) : []
    return [...(spec.tools ?? []), ...(others.length ? [handoffTool(others)] : [])]
  }

  async function agent(state: State, config: LangGraphRunnableConfig): Promise<Update> {
    const spec = await agentFor(state)
    const tools = await toolsOf(spec, handoffsThisTurn(state.messages) < MAX_HANDOFFS)
    const base = models.of(spec)
    const bound: Runnable<BaseMessage[], BaseMessage> = tools.length && base.bindTools ? base.bindTools(tools.map(definitionOf)) : base
    const memories = await recallFor(state, config, spec.name)
    const preamble = [new SystemMessage(spec.systemPrompt), ...(memories ? [new SystemMessage(memories)] : [])]
    const who = { chatId: Number(config.configurable?.chat_id ?? 0), userId: Number(config.configurable?.user_id ?? 0) }
    for (let attempt = 1; ; attempt++) {
      try {
        const sink = tokenSinks.getStore()
        const answer = await models.call(spec, bound, [...preamble, ...state.messages], who, sink ? { ...config, callbacks: [new TokenHandler(sink, spec.name)] } : config)
        answer.name = spec.name // which agent answered: read back by Turns for the reply's label
        const hints = (config.configurable?.hints as TurnHints | undefined) ?? state.hints
        const calls = answer.getType() === 'ai' ? (answer as AIMessage).tool_calls : undefined
        if (calls?.length) (answer as AIMessage).tool_calls = withHints(calls, tools, hints)
        return { messages: [answer] }
      } catch (err) {
        // The client retries failed requests, not a stream that breaks after it began: one more try.
        if (!(err instanceof ModelError) || err.kind !== 'bad_output' || attempt > STREAM_RETRIES) throw err
      }
    }
  }

  // No side effects before interrupt(): this node runs again from its start when resumed. One call
  // per run: a call allowed for the conversation is approved without asking, and the graph comes
  // back here for the next one, so a resume value always meets the interrupt it was given for.
  async function review(state: State, config: LangGraphRunnableConfig): Promise<Update> {
    const call = pendingCalls(state).find((c) => needsApproval(c.name) && !state.decisions[c.id ?? ''])
    const tool = call && toolNamed(call.name)
    if (!call || !tool?.approval) return {}
    // A tool the agent does not have is never asked about: the tools node tells the model so.
    const own = await toolsOf(await agentFor(state), true)
    if (!own.some((t) => t.name === call.name)) return { decisions: { [call.id ?? '']: { type: 'reject', message: 'Not a tool of this agent.' } } }
    if (tool.approval.type === 'tool' && tool.approval.allowForConversation !== false && (await allowedInThread?.(String(config.configurable?.thread_id), call.name))) {
      return { decisions: { [call.id ?? '']: { type: 'approve' } } }
    }
    const args = call.args as Record<string, unknown>
    const request: ApprovalRequest = {
      toolCallId: call.id ?? '',
      type: tool.approval.type,
      tool: tool.name,
      args,
      description: tool.approval.describe(args),
      editableArg: tool.approval.editableArg,
      conversationAllowance: tool.approval.allowForConversation !== false,
    }
    const parsed = decisionSchema.safeParse(interrupt(request))
    // Callers validate before resuming; should a bad value slip through, it rejects instead of throwing.
    const decision: Decision = parsed.success ? parsed.data : { type: 'reject', message: 'The decision could not be read.' }
    return { decisions: { [request.toolCallId]: decision } }
  }

  async function runTools(state: State, config: LangGraphRunnableConfig): Promise<Update> {
    const configurable = config.configurable ?? {}
    const spec = await agentFor(state)
    const own = new Map((await toolsOf(spec, true)).map((t) => [t.name, t]))
    const results: ToolMessage[] = []
    let handedTo: string | undefined
    for (const call of pendingCalls(state)) {
      const id = call.id ?? ''
      const reply = (content: string, status: 'success' | 'error' = 'success') => new ToolMessage({ content, tool_call_id: id, status })
      // Only the agent's own tools: a model that names another agent's tool gets told so.
      const tool = own.get(call.name)
      if (!tool) {
        results.push(reply(`There is no tool called ${call.name}.`, 'error'))
        continue
      }
      const decision = tool.approval ? state.decisions[id] : undefined
      if (tool.approval && decision?.type !== 'approve' && decision?.type !== 'edit') {
        const why = decision?.type === 'reject' && decision.message ? ` ${decision.message}` : ''
        results.push(reply(`The person did not approve this action, so it was not done.${why}`, 'error'))
        continue
      }
      const args = tool.schema.safeParse(decision?.type === 'edit' ? decision.args : call.args)
      if (!args.success) {
        results.push(reply(`The arguments for ${call.name} are invalid: ${args.error.message}`, 'error'))
        continue
      }
      if (call.name === HANDOFF_TOOL) handedTo = String(args.data.agent)
      try {
        const context: ToolContext = {
          threadId: String(configurable.thread_id),
          chatId: Number(configurable.chat_id ?? 0),
          userId: Number(configurable.user_id ?? 0),
          agent: spec.name,
          toolCallId: id,
        }
        results.push(reply(await tool.run(args.data, context)))
      } catch (err) {
        results.push(reply(`${call.name} failed: ${err instanceof Error ? err.message : String(err)}`, 'error'))
      }
    }
    return { messages: results, ...(handedTo && { activeAgent: handedTo }) }
  }

  const afterAgent = (state: State) => routeAfterAgent(state, needsApproval)
  return new StateGraph(ChatState)
    .addNode('route', route)
    .addNode('agent', agent)
    .addNode('review', review)
    .addNode('tools', runTools)
    .addConditionalEdges(START, routeTurn, ['route', END])
    .addEdge('route', 'agent')
    .addConditionalEdges('agent', afterAgent, ['review', 'tools', END])
    .addConditionalEdges('review', afterAgent, ['review', 'tools', END])
    .addEdge('tools', 'agent')
}

export type ChatGraph = ReturnType<ReturnType<typeof buildChatGraph>['compile']>
