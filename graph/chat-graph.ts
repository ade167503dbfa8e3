import { RemoveMessage, SystemMessage } from '@langchain/core/messages'
import type { BaseMessage } from '@langchain/core/messages'
import type { Runnable } from '@langchain/core/runnables'
import { END, MessagesAnnotation, START, StateGraph } from '@langchain/langgraph'
import { toModelError } from '../agents/model.ts'
import { messagesToDrop } from './history.ts'

type State = typeof MessagesAnnotation.State

/**
 * Where a turn starts. The person's message carries a stable id, and the messages reducer replaces a
 * message with a known id in place: so if it is not the last message, this turn was answered before
 * (a retry after a crash) and the model is not asked again.
 */
export function routeTurn(state: State): 'trim' | typeof END {
  return state.messages.at(-1)?.getType() === 'human' ? 'trim' : END
}

export interface ChatGraphOptions {
  model: Runnable<BaseMessage[], BaseMessage>
  systemPrompt: string
  /** Most messages kept in the thread's state; older ones are removed from the checkpoint itself. */
  maxMessages: number
}

/**
 * The conversation graph: trim the stored history, then ask the model. Exported uncompiled so a
 * caller (or a test) compiles it with its own checkpointer.
 */
export function buildChatGraph({ model, systemPrompt, maxMessages }: ChatGraphOptions) {
  function trim(state: State): Partial<State> {
    const drop = messagesToDrop(state.messages, maxMessages)
    return { messages: drop.map((m) => new RemoveMessage({ id: m.id ?? '' })) }
  }

  async function agent(state: State): Promise<Partial<State>> {
    try {
      return { messages: [await model.invoke([new SystemMessage(systemPrompt), ...state.messages])] }
    } catch (err) {
      // Only the model's failures become ModelErrors; a database error must reach the dispatcher's retry.
      throw toModelError(err)
    }
  }

  return new StateGraph(MessagesAnnotation)
    .addNode('trim', trim)
    .addNode('agent', agent)
    .addConditionalEdges(START, routeTurn, ['trim', END])
    .addEdge('trim', 'agent')
    .addEdge('agent', END)
}

export type ChatGraph = ReturnType<ReturnType<typeof buildChatGraph>['compile']>
