import { HumanMessage } from '@langchain/core/messages'
import type { BaseMessage } from '@langchain/core/messages'
import type { PostgresSaver } from '@langchain/langgraph-checkpoint-postgres'
import type pg from 'pg'
import { ModelError } from '../agents/model.ts'
import type { ChatGraph } from './chat-graph.ts'
import { pruneThread } from './checkpointer.ts'
import { textOf } from './history.ts'

export interface TurnInput {
  threadId: string
  /** Unique per incoming message (the Telegram update id): makes a retried turn idempotent. */
  turnId: string
  text: string
}

/** The answer to a turn already stored in the thread, if a previous attempt got that far. */
export function storedReply(messages: readonly BaseMessage[], turnMessageId: string): string | undefined {
  const at = messages.findIndex((m) => m.id === turnMessageId)
  if (at < 0) return undefined
  const answer = messages.slice(at + 1).findLast((m) => m.getType() === 'ai')
  return answer ? textOf(answer) : undefined
}

/** Runs conversation turns on the checkpointed graph, one thread per chat. */
export class Conversation {
  readonly #graph: ChatGraph
  readonly #checkpointer: PostgresSaver
  readonly #pool: pg.Pool

  constructor(deps: { graph: ChatGraph; checkpointer: PostgresSaver; pool: pg.Pool }) {
    this.#graph = deps.graph
    this.#checkpointer = deps.checkpointer
    this.#pool = deps.pool
  }

  /**
   * Answers one message. A retry of a turn whose answer was already checkpointed (the process died
   * before the answer was sent) returns that answer without asking the model again (see routeTurn).
   */
  async reply({ threadId, turnId, text }: TurnInput): Promise<string> {
    const messageId = `turn:${turnId}`
    // 'exit': one checkpoint per turn instead of one per step; a crashed turn is simply re-run.
    const result = await this.#graph.invoke(
      { messages: [new HumanMessage({ id: messageId, content: text })] },
      { configurable: { thread_id: threadId }, durability: 'exit' },
    )
    const answer = (storedReply(result.messages, messageId) ?? '').trim()
    if (!answer) throw new ModelError('bad_output', 'model returned an empty answer')
    await pruneThread(this.#pool, threadId)
    return answer
  }

  /** Forgets a thread's checkpoints (after /new). */
  async forget(threadId: string): Promise<void> {
    await this.#checkpointer.deleteThread(threadId)
  }
}
