import type { IncomingMessage, ServerResponse } from 'node:http'
import { createHash } from 'node:crypto'
import { LoopbackServer, parseMultipart, readBytes, sendJson, sleep, waitUntil } from './http.ts'
import { parseTelegramHtml } from './telegram-html.ts'
import type { TelegramEntity } from './telegram-html.ts'

/** One Bot API call the emulator received. */
export interface TelegramCall {
  method: string
  params: Record<string, unknown>
  at: number
  /** What the emulator answered, when it answered ok. */
  result?: unknown
  /** For texts sent or edited: what the reader sees (formatting parsed away) and its entities. */
  shown?: { text: string; entities: TelegramEntity[] }
}

export interface InlineButton {
  text: string
  callback_data: string
}

/** The inline buttons a call sent (none when it sent no inline keyboard). */
export const buttonsOf = (c: TelegramCall | undefined): InlineButton[] =>
  ((c?.params.reply_markup as { inline_keyboard?: InlineButton[][] } | undefined)?.inline_keyboard ?? []).flat()

interface Fault {
  method: string
  status: number
  description: string
  retryAfter?: number
  times: number
}

export interface TelegramEmulatorOptions {
  token: string
  botId?: number
  username?: string
}

const TEXT_LIMIT = 4096
const CALLBACK_DATA_LIMIT = 64
/** Bots may download files up to 20 MB with getFile. */
export const GET_FILE_LIMIT = 20 * 1024 * 1024

/** A file the emulator holds, as a message would refer to it. */
export interface EmulatedFile {
  file_id: string
  file_unique_id: string
  file_size: number
}

/** Why Telegram would refuse this reply_markup (a button's callback_data must be 1–64 bytes), if it would. */
function badKeyboard(markup: unknown): string | undefined {
  const rows = (markup as { inline_keyboard?: unknown } | undefined)?.inline_keyboard
  if (rows === undefined) return undefined
  for (const button of (rows as Array<Array<{ callback_data?: unknown }>>).flat()) {
    const data = button.callback_data
    if (data !== undefined && (typeof data !== 'string' || data.length === 0 || Buffer.byteLength(data, 'utf8') > CALLBACK_DATA_LIMIT)) return 'BUTTON_DATA_INVALID'
  }
  return undefined
}

/**
 * A Telegram Bot API server for tests and local development. It answers the methods Mechanic calls
 * the way Telegram does (including its errors for bad input), records every call, queues updates for
 * getUpdates, and can be told to fail (429 with retry_after, 5xx) or to be slow.
 */
export class TelegramEmulator extends LoopbackServer {
  readonly calls: TelegramCall[] = []
  readonly token: string
  readonly botId: number
  readonly username: string
  webhook: { url: string; secretToken?: string; allowedUpdates?: unknown } | undefined
  #faults: Fault[] = []
  #delays = new Map<string, number>()
  #pending: Array<Record<string, unknown> & { update_id: number }> = []
  #nextMessageId = 1
  readonly #answered = new Set<string>()
  readonly #files = new Map<string, { bytes: Buffer; size: number; path: string }>()
  /** File downloads (GET /file/bot<token>/<path>), by path. */
  readonly downloads: string[] = []

  constructor({ token, botId = Number(token.split(':')[0]), username = 'mechanic_test_bot' }: TelegramEmulatorOptions) {
    super()
    this.token = token
    this.botId = botId
    this.username = username
  }

  /** The value for TELEGRAM_API_ROOT. */
  get apiRoot(): string {
    return this.origin
  }

  /** Makes the next `times` calls of `method` fail with `status` (429 carries retry_after). */
  fail(method: string, status: number, opts: { times?: number; retryAfter?: number; description?: string } = {}): void {
    const description = opts.description ?? (status === 429 ? `Too Many Requests: retry after ${opts.retryAfter ?? 1}` : 'Internal Server Error')
    this.#faults.push({ method, status, description, times: opts.times ?? 1, ...(opts.retryAfter !== undefined && { retryAfter: opts.retryAfter }) })
  }

  /** Delays every answer to `method` by `ms`. */
  delay(method: string, ms: number): void {
    this.#delays.set(method, ms)
  }

  /**
   * Holds a file for getFile and download, as if a person had sent it; `size` claims another size
   * (a file too big to download needs no bytes).
   */
  addFile(bytes: Buffer, opts: { ext?: string; size?: number } = {}): EmulatedFile {
    const unique = createHash('sha256').update(bytes).digest('hex').slice(0, 16)
    const id = `file-${this.#files.size + 1}-${unique}`
    const size = opts.size ?? bytes.length
    this.#files.set(id, { bytes, size, path: `documents/${id}.${opts.ext ?? 'bin'}` })
    return { file_id: id, file_unique_id: unique, file_size: size }
  }

  /** Queues an update for getUpdates (long polling). */
  queueUpdate(update: Record<string, unknown> & { update_id: number }): void {
    this.#pending.push(update)
  }

  callsOf(method: string): TelegramCall[] {
    return this.calls.filter((c) => c.method === method)
  }

  /** The texts sent to a chat with sendMessage, in order, as the reader sees them (formatting parsed away). */
  sentTexts(chatId: number): string[] {
    return this.callsOf('sendMessage')
      .filter((c) => Number(c.params.chat_id) === chatId && c.shown)
      .map((c) => c.shown!.text)
  }

  /** Waits until `count` messages were sent to the chat, and returns their texts. */
  async waitForTexts(chatId: number, count: number, timeoutMs = 20_000): Promise<string[]> {
    return waitUntil(() => {
      const texts = this.sentTexts(chatId)
      return texts.length >= count ? texts : undefined
    }, `${count} message(s) to chat ${chatId} (have ${this.sentTexts(chatId).length})`, timeoutMs)
  }

  /** Waits for the `n`th message with inline buttons sent to a chat: its id, text and buttons by label. */
  async waitForButtons(chatId: number, n = 1, timeoutMs = 20_000): Promise<{ messageId: number; text: string; buttons: Record<string, string> }> {
    const call = await waitUntil(
      () => this.callsOf('sendMessage').filter((c) => Number(c.params.chat_id) === chatId && buttonsOf(c).length > 0 && c.result)[n - 1],
      `button message ${n} in chat ${chatId}`,
      timeoutMs,
    )
    return { messageId: (call.result as { message_id: number }).message_id, text: call.shown?.text ?? '', buttons: Object.fromEntries(buttonsOf(call).map((b) => [b.text, b.callback_data])) }
  }

  /** The newest message sent to a chat with a button labelled `label`: its id and that button's data. */
  newestButton(chatId: number, label: string): { messageId: number; data: string } {
    const call = this.callsOf('sendMessage').filter((c) => Number(c.params.chat_id) === chatId && c.result && buttonsOf(c).some((b) => b.text === label)).at(-1)
    if (!call) throw new Error(`no message in chat ${chatId} with a "${label}" button`)
    return { messageId: (call.result as { message_id: number }).message_id, data: buttonsOf(call).find((b) => b.text === label)!.callback_data }
  }

  /** The answer to a button press (its answerCallbackQuery call), once it came. */
  async waitForAnswer(callbackQueryId: string, timeoutMs = 5000): Promise<TelegramCall> {
    return this.waitForCall('answerCallbackQuery', (c) => c.params.callback_query_id === callbackQueryId, timeoutMs)
  }

  async waitForCall(method: string, predicate: (c: TelegramCall) => boolean = () => true, timeoutMs = 20_000): Promise<TelegramCall> {
    return waitUntil(() => this.calls.find((c) => c.method === method && predicate(c)), `a ${method} call`, timeoutMs)
  }

  protected async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? '/', 'http://x').pathname
    const download = /^\/file\/bot([^/]+)\/(.+)$/.exec(path)
    if (download) return this.#download(download[1]!, decodeURIComponent(download[2]!), res)
    const match = /^\/bot([^/]+)\/([A-Za-z]+)$/.exec(path)
    if (!match) return sendJson(res, 404, { ok: false, error_code: 404, description: 'Not Found' })
    const [, token, method = ''] = match
    if (token !== this.token) return sendJson(res, 401, { ok: false, error_code: 401, description: 'Unauthorized' })
    let params: Record<string, unknown>
    try {
      params = await parseParams(req)
    } catch {
      return sendJson(res, 400, { ok: false, error_code: 400, description: 'Bad Request: invalid request body' })
    }
    const call: TelegramCall = { method, params, at: Date.now() }
    this.calls.push(call)
    const delay = this.#delays.get(method)
    if (delay) await sleep(delay)
    const fault = this.#faults.find((f) => f.method === method && f.times > 0)
    if (fault) {
      fault.times--
      return sendJson(res, fault.status, {
        ok: false,
        error_code: fault.status,
        description: fault.description,
        ...(fault.retryAfter !== undefined && { parameters: { retry_after: fault.retryAfter } }),
      })
    }
    const outcome = await this.#answer(method, params, call)
    if ('error' in outcome) return sendJson(res, outcome.status, { ok: false, error_code: outcome.status, description: outcome.error })
    call.result = outcome.result
    sendJson(res, 200, { ok: true, result: outcome.result })
  }

  async #answer(method: string, p: Record<string, unknown>, call: TelegramCall): Promise<{ result: unknown } | { status: number; error: string }> {
    const bad = (error: string) => ({ status: 400, error: `Bad Request: ${error}` })
    const keyboardProblem = badKeyboard(p.reply_markup)
    if (keyboardProblem) return bad(keyboardProblem)
    switch (method) {
      case 'getMe':
        return { result: { id: this.botId, is_bot: true, first_name: 'Mechanic', username: this.username, can_join_groups: true, can_read_all_group_messages: false, supports_inline_queries: false } }
      case 'setWebhook': {
        if (typeof p.url !== 'string') return bad('bad webhook: URL is missing')
        this.webhook = { url: p.url, ...(typeof p.secret_token === 'string' && { secretToken: p.secret_token }), allowedUpdates: p.allowed_updates }
        return { result: true }
      }
      case 'deleteWebhook':
        this.webhook = undefined
        return { result: true }
      case 'getWebhookInfo':
        return { result: { url: this.webhook?.url ?? '', has_custom_certificate: false, pending_update_count: this.#pending.length } }
      case 'getUpdates':
        return { result: await this.#getUpdates(p) }
      case 'sendMessage':
      case 'sendMessageDraft':
      case 'editMessageText': {
        if (method !== 'editMessageText' && p.chat_id === undefined) return bad('chat_id is empty')
        const shown = showText(p)
        if ('error' in shown) return { status: 400, error: shown.error }
        call.shown = shown
        if (method === 'sendMessageDraft') return { result: true }
        const message = this.#message(p, shown.text)
        return { result: method === 'editMessageText' ? { ...message, message_id: Number(p.message_id), edit_date: now() } : message }
      }
      case 'editMessageReplyMarkup':
        return { result: { ...this.#message(p, ''), message_id: Number(p.message_id), edit_date: now() } }
      case 'sendPhoto': {
        // Telegram's rules for an uploaded photo: at most 10 MB, width + height at most 10000, a ratio of at most 20.
        const file = uploaded(p, 'photo')
        if (!file?.bytes) return bad('there is no photo in the request')
        if (file.bytes.length > PHOTO_LIMIT) return bad('PHOTO_SAVE_FILE_INVALID')
        const size = imageSize(file.bytes)
        if (!size) return bad('IMAGE_PROCESS_FAILED')
        if (size.width + size.height > 10_000 || Math.max(size.width, size.height) / Math.min(size.width, size.height) > 20) return bad('PHOTO_INVALID_DIMENSIONS')
        if (typeof p.caption === 'string' && p.caption.length > 1024) return bad('message caption is too long')
        return { result: { ...this.#message(p, ''), photo: [{ file_id: `photo-${this.#nextMessageId}`, file_unique_id: 'u', file_size: file.bytes.length, ...size }], ...(typeof p.caption === 'string' && { caption: p.caption }) } }
      }
      case 'sendDocument':
        return { result: { ...this.#message(p, ''), document: { file_id: `doc-${this.#nextMessageId}`, file_unique_id: 'u', file_name: 'file' } } }
      case 'answerCallbackQuery': {
        // Telegram takes one answer per query; a second is refused like an expired one.
        const id = typeof p.callback_query_id === 'string' ? p.callback_query_id : ''
        if (!id || this.#answered.has(id)) return bad('query is too old and response timeout expired or query ID is invalid')
        this.#answered.add(id)
        return { result: true }
      }
      case 'getFile': {
        const file = typeof p.file_id === 'string' ? this.#files.get(p.file_id) : undefined
        if (!file) return bad('invalid file_id')
        if (file.size > GET_FILE_LIMIT) return bad('file is too big')
        return { result: { file_id: p.file_id, file_unique_id: 'u', file_size: file.size, file_path: file.path } }
      }
      case 'deleteMessage':
      case 'sendChatAction':
      case 'setMyCommands':
      case 'deleteMyCommands':
        return { result: true }
      default:
        return { status: 404, error: 'Not Found: method not found' }
    }
  }

  /** A file download as Telegram serves it: the bytes, or 404 for a wrong token or path. */
  #download(token: string, path: string, res: ServerResponse): void {
    const file = [...this.#files.values()].find((f) => f.path === path)
    if (token !== this.token || !file) return sendJson(res, 404, { ok: false, error_code: 404, description: 'Not Found' })
    this.downloads.push(path)
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': file.bytes.length })
    res.end(file.bytes)
  }

  #message(p: Record<string, unknown>, text: string) {
    const chatId = Number(p.chat_id)
    return {
      message_id: this.#nextMessageId++,
      date: now(),
      chat: chatId > 0 ? { id: chatId, type: 'private', first_name: 'Tester' } : { id: chatId, type: 'supergroup', title: 'Group' },
      from: { id: this.botId, is_bot: true, first_name: 'Mechanic', username: this.username },
      ...(text && { text }),
      ...(typeof p.message_thread_id === 'number' && { message_thread_id: p.message_thread_id, is_topic_message: true }),
      ...(p.reply_markup !== undefined && { reply_markup: p.reply_markup }),
    }
  }

  async #getUpdates(p: Record<string, unknown>) {
    const offset = typeof p.offset === 'number' ? p.offset : 0
    // Telegram forgets updates below the offset: that is how a poller confirms them.
    this.#pending = this.#pending.filter((u) => u.update_id >= offset)
    const limit = typeof p.limit === 'number' ? p.limit : 100
    const deadline = Date.now() + Math.min(Number(p.timeout ?? 0), 2) * 1000
    while (this.#pending.length === 0 && Date.now() < deadline) await sleep(20)
    return this.#pending.slice(0, limit)
  }
}

const now = () => Math.floor(Date.now() / 1000)

/**
 * What a text would show, or Telegram's refusal: parse_mode HTML is parsed as Telegram parses it
 * (strictly: markup Telegram would silently drop is refused too, so our own mistakes show), and the
 * 4096 limit counts the text after parsing, as Telegram's does.
 */
function showText(p: Record<string, unknown>): { text: string; entities: TelegramEntity[] } | { error: string } {
  const raw = typeof p.text === 'string' ? p.text : ''
  if (raw === '') return { error: 'Bad Request: message text is empty' }
  if (!raw.trim()) return { error: 'Bad Request: text must be non-empty' }
  const mode = typeof p.parse_mode === 'string' ? p.parse_mode.toLowerCase() : undefined
  if (mode !== undefined && mode !== 'html') return { error: `Bad Request: unsupported parse_mode "${String(p.parse_mode)}"` }
  const shown = mode === 'html' ? parseTelegramHtml(raw, { strict: true }) : { text: raw.trim(), entities: [] }
  if ('error' in shown) return shown
  if (shown.text.length > TEXT_LIMIT) return { error: 'Bad Request: message is too long' }
  return shown
}

const PHOTO_LIMIT = 10 * 1024 * 1024

/** An uploaded file a parameter names: grammY sends `photo: "attach://<field>"` with the file in that field. */
export function uploaded(p: Record<string, unknown>, name: string): { filename: string; bytes: Buffer } | undefined {
  const value = p[name]
  const field = typeof value === 'string' && value.startsWith('attach://') ? p[value.slice('attach://'.length)] : value
  return typeof field === 'object' && field !== null && 'bytes' in field ? (field as { filename: string; bytes: Buffer }) : undefined
}

/** A PNG's or JPEG's width and height from its header; undefined for anything else. */
export function imageSize(bytes: Buffer): { width: number; height: number } | undefined {
  if (bytes.length > 24 && bytes.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) && bytes.subarray(12, 16).toString('latin1') === 'IHDR') {
    return { width: bytes.readUInt32BE(16), height: bytes.readUInt32BE(20) }
  }
  if (bytes[0] === 0xff && bytes[1] === 0xd8) {
    for (let at = 2; at + 9 < bytes.length; ) {
      if (bytes[at] !== 0xff) return undefined
      const marker = bytes[at + 1]!
      if (marker >= 0xc0 && marker <= 0xc3) return { height: bytes.readUInt16BE(at + 5), width: bytes.readUInt16BE(at + 7) }
      at += 2 + bytes.readUInt16BE(at + 2)
    }
  }
  return undefined
}

async function parseParams(req: IncomingMessage): Promise<Record<string, unknown>> {
  const type = req.headers['content-type'] ?? ''
  const bytes = await readBytes(req)
  if (bytes.length === 0) return {}
  if (type.includes('multipart/form-data')) {
    // grammY's uploads: files as { filename, content }, text fields parsed as JSON where they are JSON.
    return Object.fromEntries(
      [...parseMultipart(bytes, type)].map(([name, f]) => [name, f.filename !== undefined ? { filename: f.filename, content: f.data.toString('utf8'), bytes: f.data } : tryJson(f.data.toString('utf8'))]),
    )
  }
  const body = bytes.toString('utf8')
  if (type.includes('application/json')) return JSON.parse(body) as Record<string, unknown>
  return Object.fromEntries(new URLSearchParams(body))
}

function tryJson(value: string): unknown {
  try {
    return JSON.parse(value)
  } catch {
    return value
  }
}
