import type { Api } from 'grammy'
import type { Logger } from '../logger.ts'
import { MESSAGE_LIMIT } from './format/split.ts'

/** The Telegram calls the editor makes (all a test needs to fake). */
export type MessageApi = Pick<Api, 'sendMessage' | 'editMessageText' | 'sendMessageDraft'>

/** Where the text is shown: a draft (private chats), or one message sent once and then edited. */
export type MessageTarget =
  | { kind: 'draft'; chatId: number; draftId: number; topicId?: number | undefined }
  | {
      kind: 'message'
      chatId: number
      topicId?: number | undefined
      /** A message shown earlier: it is edited, none is sent. */
      messageId?: number | undefined
      /** Called once the message is sent; a close waits for it. */
      onMessage?: ((messageId: number) => Promise<void>) | undefined
    }

/** Telegram refuses an edit to the text a message already shows; for us that edit succeeded. */
export const isNotModified = (err: unknown): boolean => String(err).includes('not modified')

const clip = (text: string) => (text.length > MESSAGE_LIMIT ? `${text.slice(0, MESSAGE_LIMIT - 1)}…` : text)

/**
 * Shows the latest of a changing text in one Telegram message (or draft): at most one call every
 * `everyMs`, measured from the start of each call; never two calls at once; unchanged text is not
 * sent again; the newest text always follows. Best effort: a failed call is logged, never thrown,
 * and the next interval tries again.
 */
export class ThrottledMessage {
  readonly #api: MessageApi
  readonly #target: MessageTarget
  readonly #everyMs: number
  readonly #log: Logger
  #messageId: number | undefined
  #latest: string | undefined
  #shown: string | undefined
  #timer: NodeJS.Timeout | undefined
  #inFlight: Promise<void> | undefined
  #lastCallAt = -Infinity
  #closed = false

  readonly #format: ((text: string) => string) | undefined

  /**
   * `format`, when given, turns the text into Telegram HTML (at most one message's worth) when it is
   * sent, so a fast-changing text is formatted once per call, not once per change.
   */
  constructor(deps: { api: MessageApi; target: MessageTarget; everyMs: number; log: Logger; format?: ((text: string) => string) | undefined }) {
    this.#api = deps.api
    this.#target = deps.target
    this.#everyMs = deps.everyMs
    this.#log = deps.log
    this.#format = deps.format
    this.#messageId = deps.target.kind === 'message' ? deps.target.messageId : undefined
  }

  /** The message shown, once one was sent (or the one given); drafts have none. */
  get messageId(): number | undefined {
    return this.#messageId
  }

  /** Shows `text` (the whole of it) as soon as the throttle allows; ignored once closed. */
  show(text: string): void {
    if (this.#closed) return
    this.#latest = this.#format ? text : clip(text)
    this.#schedule()
  }

  /** Stops showing: a pending text is dropped, a call on its way is waited for. Never throws. */
  async close(): Promise<void> {
    this.#closed = true
    clearTimeout(this.#timer)
    this.#timer = undefined
    await this.#inFlight
  }

  // A call in flight reschedules when it ends, so a timer is only set while nothing is in flight.
  #schedule(): void {
    if (this.#closed || this.#timer || this.#inFlight || this.#latest === this.#shown) return
    const wait = Math.max(0, this.#lastCallAt + this.#everyMs - Date.now())
    this.#timer = setTimeout(() => this.#flush(), wait)
  }

  #flush(): void {
    this.#timer = undefined
    const text = this.#latest
    if (this.#closed || text === undefined || text === this.#shown) return
    this.#lastCallAt = Date.now()
    this.#inFlight = this.#send(text)
      .catch((err: unknown) => this.#log.debug({ err, chatId: this.#target.chatId, messageId: this.#messageId }, 'could not show the text so far'))
      .finally(() => {
        this.#inFlight = undefined
        this.#schedule()
      })
  }

  async #send(text: string): Promise<void> {
    const target = this.#target
    const body = this.#format ? this.#format(text) : text
    const mode = this.#format ? { parse_mode: 'HTML' as const } : {}
    const thread = { ...(target.topicId ? { message_thread_id: target.topicId } : {}), ...mode }
    if (!body.trim()) return
    if (target.kind === 'draft') {
      await this.#api.sendMessageDraft(target.chatId, target.draftId, body, thread)
    } else if (this.#messageId === undefined) {
      const messageId = (await this.#api.sendMessage(target.chatId, body, thread)).message_id
      this.#messageId = messageId
      // The text is shown even when keeping the id fails: that failure is not worth a second edit.
      await target.onMessage?.(messageId).catch((err: unknown) => this.#log.warn({ err, chatId: target.chatId, messageId }, 'could not keep the id of the message'))
    } else {
      await this.#api.editMessageText(target.chatId, this.#messageId, body, mode).catch((err: unknown) => {
        if (!isNotModified(err)) throw err
      })
    }
    this.#shown = text
  }
}
