import { RemoveMessage, SystemMessage, ToolMessage } from '@langchain/core/messages'
import type { AIMessage, BaseMessage } from '@langchain/core/messages'
import type { BaseChatModel } from '@langchain/core/language_models/chat_models'
import type { Runnable } from '@langchain/core/runnables'
import { Annotation, END, MessagesAnnotation, START, StateGraph, interrupt } from '@langchain/langgraph'
import type { LangGraphRunnableConfig } from '@langchain/langgraph'
import { toModelError } from '../agents/model.ts'
import { toFunctionDefinition } from '../agents/tools/tool.ts'
import type { AgentTool, ToolContext } from '../agents/tools/tool.ts'
import { decisionSchema } from './approval.ts'
import type { ApprovalRequest, Decision } from './approval.ts'
import { messagesToDrop, textOf } from './history.ts'

export const ChatState = Annotation.Root({
  ...MessagesAnnotation.spec,
  /** Decisions on tool calls by tool_call_id; `null` clears them at the start of a turn. */
  decisions: Annotation<Record<string, Decision>, Record<string, Decision> | null>({
    reducer: (current, update) => (update === null ? {} : { ...current, ...update }),
    default: () => ({}),
  }),
  /** The agent answering this turn (the one a turn's input names; kept for a resume). */
  activeAgent: Annotation<string, string | undefined>({
    reducer: (current, update) => update ?? current,
    default: () => '',
  }),
})
export type State = typeof ChatState.State
type Update = typeof ChatState.Update

/** Any langchain chat model (ChatOpenAI in production, fakes in tests). */
export type ChatModel = BaseChatModel

/** One agent of the graph: its instructions and the tools it may call. */
export interface AgentSpec {
  name: string
  systemPrompt: string
  tools?: AgentTool[]
}

export interface ChatGraphOptions {
  model: ChatModel
  /** The agents a turn may address; the first answers when a turn names none. */
  agents: [AgentSpec, ...AgentSpec[]]
  /** Most messages kept in the thread's state; older ones are removed from the checkpoint itself. */
  maxMessages: number
  /** What the agent is reminded of before answering a person's message (long-term memories). */
  remind?: (who: { userId: number; chatId: number; agent: string }, text: string) => Promise<string | undefined>
}

/** What the graph reads from `configurable`, besides the thread: who the tools act for. */
export interface TurnContext {
  chatId: number
  userId: number
}

/**
 * Where a turn starts. The person's message carries a stable id, and the messages reducer replaces a
 * message with a known id in place: so if it is not the last message, this turn was answered before
 * (a retry after a crash) and the model is not asked again.
 */
export function routeTurn(state: Pick<State, 'messages'>): 'trim' | typeof END {
  return state.messages.at(-1)?.getType() === 'human' ? 'trim' : END
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

/**
 * The conversation graph: trim the stored history, ask the model, and run the tools it calls, each
 * risky one only after an interrupt brought back a person's decision. Exported uncompiled so a
 * caller (or a test) compiles it with its own checkpointer.
 */
export function buildChatGraph({ model, agents, maxMessages, remind }: ChatGraphOptions) {
  const byName = new Map(agents.flatMap((a) => a.tools ?? []).map((t) => [t.name, t]))
  const needsApproval = (name: string) => byName.get(name)?.approval !== undefined
  const bound = new Map(
    agents.map((a): [string, { spec: AgentSpec; model: Runnable<BaseMessage[], BaseMessage> }] => {
      const tools = a.tools ?? []
      return [a.name, { spec: a, model: tools.length && model.bindTools ? model.bindTools(tools.map(toFunctionDefinition)) : model }]
    }),
  )
  const agentFor = (state: Pick<State, 'activeAgent'>) => bound.get(state.activeAgent) ?? bound.get(agents[0].name)!

  function trim(state: State): Update {
    const drop = messagesToDrop(state.messages, maxMessages)
    return { messages: drop.map((m) => new RemoveMessage({ id: m.id ?? '' })), decisions: null }
  }

  // One recall per person's message, also across the model calls that follow its tool calls.
  const reminders = new Map<string, Promise<string | undefined>>()
  function reminderFor(state: State, config: LangGraphRunnableConfig, agentName: string): Promise<string | undefined> {
    const question = state.messages.findLast((m) => m.getType() === 'human')
    if (!remind || !question) return Promise.resolve(undefined)
    const key = `${String(config.configurable?.thread_id)}:${question.id ?? ''}:${agentName}`
    let found = reminders.get(key)
    if (!found) {
      const who = { userId: Number(config.configurable?.user_id ?? 0), chatId: Number(config.configurable?.chat_id ?? 0), agent: agentName }
      found = remind(who, textOf(question))
      reminders.set(key, found)
      if (reminders.size > 500) reminders.delete(reminders.keys().next().value!)
    }
    return found
  }

  async function agent(state: State, config: LangGraphRunnableConfig): Promise<Update> {
    const { spec, model: agentModel } = agentFor(state)
    const reminder = await reminderFor(state, config, spec.name)
    const preamble = [new SystemMessage(spec.systemPrompt), ...(reminder ? [new SystemMessage(reminder)] : [])]
    try {
      return { messages: [await agentModel.invoke([...preamble, ...state.messages])] }
    } catch (err) {
      // Only the model's failures become ModelErrors; a database error must reach the dispatcher's retry.
      throw toModelError(err)
    }
  }

  // No side effects before interrupt(): this node runs again from its start when resumed.
  function review(state: State): Update {
    const call = pendingCalls(state).find((c) => needsApproval(c.name) && !state.decisions[c.id ?? ''])
    const tool = call && byName.get(call.name)
    if (!call || !tool?.approval) return {}
    const args = call.args as Record<string, unknown>
    const request: ApprovalRequest = {
      toolCallId: call.id ?? '',
      type: tool.approval.type,
      tool: tool.name,
      args,
      description: tool.approval.describe(args),
      editableArg: tool.approval.editableArg,
    }
    const parsed = decisionSchema.safeParse(interrupt(request))
    // Callers validate before resuming; should a bad value slip through, it rejects instead of throwing.
    const decision: Decision = parsed.success ? parsed.data : { type: 'reject', message: 'The decision could not be read.' }
    return { decisions: { [request.toolCallId]: decision } }
  }

  async function runTools(state: State, config: LangGraphRunnableConfig): Promise<Update> {
    const configurable = config.configurable ?? {}
    const results: ToolMessage[] = []
    for (const call of pendingCalls(state)) {
      const id = call.id ?? ''
      const reply = (content: string, status: 'success' | 'error' = 'success') => new ToolMessage({ content, tool_call_id: id, status })
      const tool = byName.get(call.name)
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
      try {
        const context: ToolContext = {
          threadId: String(configurable.thread_id),
          chatId: Number(configurable.chat_id ?? 0),
          userId: Number(configurable.user_id ?? 0),
          agent: agentFor(state).spec.name,
          toolCallId: id,
        }
        results.push(reply(await tool.run(args.data, context)))
      } catch (err) {
        results.push(reply(`${call.name} failed: ${err instanceof Error ? err.message : String(err)}`, 'error'))
      }
    }
    return { messages: results }
  }

  const afterAgent = (state: State) => routeAfterAgent(state, needsApproval)
  return new StateGraph(ChatState)
    .addNode('trim', trim)
    .addNode('agent', agent)
    .addNode('review', review)
    .addNode('tools', runTools)
    .addConditionalEdges(START, routeTurn, ['trim', END])
    .addEdge('trim', 'agent')
    .addConditionalEdges('agent', afterAgent, ['review', 'tools', END])
    .addConditionalEdges('review', afterAgent, ['review', 'tools', END])
    .addEdge('tools', 'agent')
}

export type ChatGraph = ReturnType<ReturnType<typeof buildChatGraph>['compile']>
