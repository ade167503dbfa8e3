import type { Api } from 'grammy'
import type { Logger } from '../logger.ts'
import { MESSAGE_LIMIT, splitMessage } from './split-message.ts'

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

const clip = (text: string) => (text.length > MESSAGE_LIMIT ? `${text.slice(0, MESSAGE_LIMIT - 1)}…` : text)

/**
 * One reply as the model writes it. In a private chat the text so far is shown with
 * `sendMessageDraft` and the answer then sent with one `sendMessage`; in a group one preview message
 * is edited (throttled) and becomes the answer itself, so the chat never sees the answer twice.
 * Previews are cosmetic: their failures are logged, never fail the turn.
 */
export class ReplyStream {
  readonly #api: Api
  readonly #place: ReplyPlace
  readonly #log: Logger
  readonly #draftId: number
  readonly #everyMs: number
  #latest = ''
  #shown = ''
  #timer: NodeJS.Timeout | undefined
  #lastAt = 0
  #chain: Promise<void> = Promise.resolve()
  #previewId: number | undefined
  #closed = false

  constructor(api: Api, place: ReplyPlace, log: Logger, draftId: number) {
    this.#api = api
    this.#place = place
    this.#log = log
    this.#draftId = draftId || 1 // Telegram wants a non-zero draft id
    this.#everyMs = place.private ? DRAFT_EVERY_MS : EDIT_EVERY_MS
  }

  get #thread() {
    return this.#place.topicId ? { message_thread_id: this.#place.topicId } : {}
  }

  /** The text so far (the whole of it, not a delta). */
  push(text: string): void {
    if (this.#closed || !text.trim()) return
    this.#latest = text
    if (this.#timer) return
    const wait = Math.max(0, this.#lastAt + this.#everyMs - Date.now())
    this.#timer = setTimeout(() => {
      this.#timer = undefined
      this.#lastAt = Date.now()
      this.#chain = this.#chain.then(() => this.#show(this.#latest))
    }, wait)
  }

  async #show(text: string): Promise<void> {
    if (this.#closed || text === this.#shown) return
    const { chatId } = this.#place
    try {
      if (this.#place.private) await this.#api.sendMessageDraft(chatId, this.#draftId, clip(text), this.#thread)
      else if (this.#previewId === undefined) this.#previewId = (await this.#api.sendMessage(chatId, clip(text), this.#thread)).message_id
      else await this.#api.editMessageText(chatId, this.#previewId, clip(text))
      this.#shown = text
    } catch (err) {
      this.#log.debug({ err }, 'could not show the reply so far')
    }
  }

  /** Stops previewing and waits for a preview on its way. */
  async #close(): Promise<void> {
    this.#closed = true
    clearTimeout(this.#timer)
    this.#timer = undefined
    await this.#chain
  }

  /** Sends the whole answer: the group's preview becomes its first part; nothing is sent twice. */
  async finish(text: string): Promise<void> {
    await this.#close()
    const parts = splitMessage(text)
    const { chatId } = this.#place
    let rest = parts
    if (this.#previewId !== undefined && parts[0] !== undefined) {
      const first = parts[0]
      const edited = await this.#api.editMessageText(chatId, this.#previewId, first).then(
        () => true,
        (err: unknown) => {
          // "message is not modified" means it already shows exactly this.
          if (String(err).includes('not modified')) return true
          this.#log.warn({ err }, 'could not turn the preview into the answer; sending it anew')
          return false
        },
      )
      if (edited) rest = parts.slice(1)
      else await this.#api.deleteMessage(chatId, this.#previewId).catch(() => undefined)
    }
    for (const part of rest) await this.#api.sendMessage(chatId, part, this.#thread)
  }

  /** The turn ended without an answer to show (an approval, an error): take the preview away. */
  async discard(): Promise<void> {
    await this.#close()
    if (this.#previewId !== undefined) await this.#api.deleteMessage(this.#place.chatId, this.#previewId).catch((err: unknown) => this.#log.debug({ err }, 'could not delete the preview'))
  }
}
