import type { TurnHints } from '../agents/tools/tool.ts'
import type { AgentDirectory, AgentListing } from '../agents/directory.ts'
import * as db from '../db/chat-threads.ts'
import type { ChatPlace } from '../db/chat-threads.ts'
import type { Pool } from '../db/database.ts'
import type { Attachment } from '../domain/attachments.ts'
import type { TurnOutcome, Turns } from '../graph/turns.ts'
import type { Approvals } from './approvals.ts'
import type { Person } from './output.ts'

export type { ChatPlace } from '../db/chat-threads.ts'

/** How a person's message was met: the graph's outcome, or (while a decision is pending) an answer beside it. */
export type ChatTurn = TurnOutcome | { kind: 'aside'; text: string; agent: string }

/** One message to answer, from a person in a place. */
export interface ChatMessage {
  place: ChatPlace
  person: Person
  /** The Telegram update it came in: makes a retried turn idempotent. */
  updateId: number
  /** The turn's id when it did not come in an update (a scheduled job's firing); else the update id. */
  turnId?: string | undefined
  text: string
  /** Photos and documents that came with it. */
  attachments?: readonly Attachment[] | undefined
  /** The agent the message is for; else the place's active agent. */
  agent?: string | undefined
  /** What the message says beyond its words (the repository a /code names). */
  hints?: TurnHints | undefined
  onText?: ((textSoFar: string, agent: string) => void) | undefined
}

/**
 * The conversations of chats and forum topics: their threads, the agent each talks to, a fresh
 * start, and one turn for a message (never fed into a thread that waits for a decision).
 */
export class Chats {
  readonly #pool: Pool
  readonly #turns: Turns
  readonly #approvals: Approvals
  readonly #agents: AgentDirectory

  constructor(deps: { pool: Pool; turns: Turns; approvals: Approvals; agents: AgentDirectory }) {
    this.#pool = deps.pool
    this.#turns = deps.turns
    this.#approvals = deps.approvals
    this.#agents = deps.agents
  }

  /** The agent a place talks to: its choice if that agent still exists, else the default one. */
  async activeAgent(place: ChatPlace): Promise<string> {
    const session = await db.chatSession(this.#pool, place)
    return session.activeAgent && (await this.#agents.get(session.activeAgent)) ? session.activeAgent : this.#agents.fallback
  }

  /** Makes `name` the place's agent; undefined when there is no such agent. */
  async switchAgent(place: ChatPlace, name: string): Promise<AgentListing | undefined> {
    const agent = await this.#agents.get(name)
    if (!agent) return undefined
    await db.setActiveAgent(this.#pool, place, agent.name === this.#agents.fallback ? undefined : agent.name)
    return agent
  }

  /**
   * Starts a fresh conversation in the place (the active agent stays). A request of the old thread
   * cannot be carried out once the thread is gone, so it is cancelled first; tools allowed for the
   * old conversation ask again. Returns the old thread.
   */
  async startNew(place: ChatPlace, by: Person, updateId: number): Promise<string | undefined> {
    const waiting = await this.#approvals.pendingInChat(place.chatId)
    if (waiting) await this.#approvals.decide(waiting, { status: 'cancelled', decision: { type: 'reject', message: 'A new conversation was started.' }, by, updateId })
    const { previous } = await db.startNewThread(this.#pool, place)
    if (previous) {
      await this.#turns.forget(previous)
      await this.#approvals.forgetAllowances(previous)
    }
    return previous
  }

  /**
   * One turn: the graph's answer (streamed through `onText`) or its approval request; or, while the
   * thread waits for a decision, an answer beside it that leaves the thread untouched (a new message
   * in an interrupted thread would drop the interrupt). A request whose message never went out (a
   * crash) comes back as the outcome, to be shown now.
   */
  async converse(m: ChatMessage): Promise<{ threadId: string; outcome: ChatTurn }> {
    return this.#turns.sharingReads(() => this.#converse(m))
  }

  async #converse(m: ChatMessage): Promise<{ threadId: string; outcome: ChatTurn }> {
    const session = await db.chatSession(this.#pool, m.place)
    const { threadId } = session
    const who = { chatId: m.place.chatId, userId: m.person.id }
    const pending = await this.#turns.pending(threadId)
    if (!pending) {
      const outcome = await this.#turns.reply({ threadId, turnId: m.turnId ?? String(m.updateId), text: m.text, attachments: m.attachments, agent: m.agent ?? session.activeAgent, ...who, hints: m.hints, onText: m.onText })
      return { threadId, outcome }
    }
    const request = await this.#approvals.byInterrupt(pending.interruptId)
    if (!request || request.messageId === null) return { threadId, outcome: { kind: 'approval', ...pending } }
    const answer = await this.#turns.answerAside(threadId, m.text, pending.request, who, m.attachments)
    return { threadId, outcome: { kind: 'aside', ...answer } }
  }
}
