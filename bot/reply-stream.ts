import type { Api } from 'grammy'
import type { Logger } from '../logger.ts'
import { answerParts, answerPreview } from './format/reply.ts'
import { ThrottledMessage, isNotModified } from './throttled-message.ts'

/** How often a preview may change: drafts are cheap, edits in groups count against 20 messages/min. */
export const DRAFT_EVERY_MS = 400
export const EDIT_EVERY_MS = 1500

export interface ReplyPlace {
  chatId: number
  /** A forum topic: every message of the reply goes there. */
  topicId?: number | undefined
  /** Private chats preview with drafts; groups with one message edited in place. */
  private: boolean
}

/**
 * One reply as the model writes it, its Markdown rendered as Telegram formatting. In a private chat
 * the text so far is shown with `sendMessageDraft` and the answer then sent with one `sendMessage`;
 * in a group one preview message is edited (throttled) and becomes the answer itself, so the chat
 * never sees the answer twice. A preview is rendered only when it is sent, and half-written Markdown
 * renders to well-formed HTML. Previews are cosmetic: their failures are logged, never fail the turn.
 */
export class ReplyStream {
  readonly #api: Api
  readonly #place: ReplyPlace
  readonly #log: Logger
  readonly #preview: ThrottledMessage
  #agent: string | undefined

  constructor(api: Api, place: ReplyPlace, log: Logger, draftId: number) {
    this.#api = api
    this.#place = place
    this.#log = log
    const { chatId, topicId } = place
    this.#preview = new ThrottledMessage({
      api,
      // Telegram wants a non-zero draft id.
      target: place.private ? { kind: 'draft', chatId, topicId, draftId: draftId || 1 } : { kind: 'message', chatId, topicId },
      everyMs: place.private ? DRAFT_EVERY_MS : EDIT_EVERY_MS,
      log,
      format: (markdown) => answerPreview(this.#agent, markdown),
    })
  }

  get #options() {
    return { parse_mode: 'HTML' as const, ...(this.#place.topicId ? { message_thread_id: this.#place.topicId } : {}) }
  }

  /** The Markdown so far (the whole of it, not a delta), and the agent writing it. */
  push(agent: string | undefined, markdown: string): void {
    this.#agent = agent
    if (markdown.trim()) this.#preview.show(markdown)
  }

  /** Sends the whole answer: the group's preview becomes its first part; nothing is sent twice. */
  async finish(agent: string | undefined, markdown: string): Promise<void> {
    await this.#preview.close()
    const previewId = this.#preview.messageId
    const parts = answerParts(agent, markdown)
    const { chatId } = this.#place
    let rest = parts
    if (previewId !== undefined && parts[0] !== undefined) {
      const first = parts[0]
      const edited = await this.#api.editMessageText(chatId, previewId, first, { parse_mode: 'HTML' }).then(
        () => true,
        (err: unknown) => {
          // "message is not modified" means it already shows exactly this.
          if (isNotModified(err)) return true
          this.#log.warn({ err }, 'could not turn the preview into the answer; sending it anew')
          return false
        },
      )
      if (edited) rest = parts.slice(1)
      else await this.#api.deleteMessage(chatId, previewId).catch(() => undefined)
    }
    for (const part of rest) await this.#api.sendMessage(chatId, part, this.#options)
  }

  /** The turn ended without an answer to show (an approval, an error): take the preview away. */
  async discard(): Promise<void> {
    await this.#preview.close()
    const previewId = this.#preview.messageId
    if (previewId !== undefined) await this.#api.deleteMessage(this.#place.chatId, previewId).catch((err: unknown) => this.#log.debug({ err }, 'could not delete the preview'))
  }
}
