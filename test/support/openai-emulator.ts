import { createHash } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { LoopbackServer, parseMultipart, readBytes, sendJson, sleep, waitUntil } from './http.ts'

export interface ChatMessage {
  role: string
  content?: unknown
  tool_calls?: unknown
  tool_call_id?: string
}

export interface ChatRequest {
  model: string
  messages: ChatMessage[]
  stream?: boolean
  tools?: unknown[]
  authorization: string | undefined
}

/** What a scripted model says back. `status` makes it an HTTP error instead. */
export interface ModelTurn {
  content?: string
  toolCalls?: Array<{ name: string; args: Record<string, unknown>; id?: string }>
  delayMs?: number
  /** Streaming only: a pause before each piece of the content, so a client sees it arrive. */
  chunkDelayMs?: number
  status?: number
  /** Sent as the body as is (for malformed-output tests). */
  raw?: string
}

export type Responder = (req: ChatRequest) => ModelTurn | Promise<ModelTurn>

/** One POST /v1/audio/transcriptions the emulator received. */
export interface TranscriptionRequest {
  model: string
  fileName: string | undefined
  bytes: number
  authorization: string | undefined
}

const AUDIO_HEADER = 'OggS-emulated\n'

/**
 * Audio the emulator "hears" as `words`: a header, then the words. Real speech recognition is not the
 * point of the tests; the bytes travel through getFile, the download and the multipart upload as any
 * voice note's would.
 */
export const spokenAudio = (words: string): Buffer => Buffer.from(AUDIO_HEADER + words, 'utf8')

/** The image parts (data URLs) of a chat request's messages. */
export function imagesIn(req: Pick<ChatRequest, 'messages'>): string[] {
  return req.messages.flatMap((m) => (Array.isArray(m.content) ? (m.content as Array<{ type?: string; image_url?: { url?: string } }>) : []))
    .filter((p) => p.type === 'image_url')
    .map((p) => String(p.image_url?.url))
}

/** The default model: repeats the last thing the person said, so tests can see what reached it. */
export const echoResponder: Responder = (req) => ({ content: `echo: ${lastUserText(req)}` })

export function lastUserText(req: ChatRequest): string {
  const last = req.messages.findLast((m) => m.role === 'user')
  const c = last?.content
  if (typeof c === 'string') return c
  if (Array.isArray(c)) return c.map((p: { text?: string }) => p.text ?? '').join('')
  return ''
}

/**
 * An OpenAI-compatible API server: `/v1/chat/completions` (tool calls, SSE streaming),
 * `/v1/embeddings` (deterministic hashed bag-of-words vectors) and `/v1/models`. Tests script
 * answers per call, add latency, and inject failures.
 */
export class OpenAIEmulator extends LoopbackServer {
  readonly requests: ChatRequest[] = []
  readonly embeddingRequests: Array<{ input: string[]; model: string }> = []
  readonly transcriptions: TranscriptionRequest[] = []
  /** Models that cannot read images: a request with an image part gets OpenRouter's 404 for them. */
  readonly textOnlyModels = new Set<string>()
  /** How the transcription endpoint answers: normally, with an HTTP error, or not at all (404: not offered). */
  transcription: { status?: number; delayMs?: number } = {}
  /**
   * What the emulated provider charges per token, by model (OpenRouter's way): published on
   * `/v1/models` as `pricing` when `publishPrices`, and reported in each usage block as `cost` when
   * `reportCost`. With `reportCost` off the service has to price calls itself.
   */
  readonly prices = new Map<string, { prompt: number; completion: number }>()
  reportCost = true
  publishPrices = true
  /**
   * Where a stream's usage goes: on a last chunk that still carries a choice with an empty delta, as
   * OpenRouter sends it (true), or on a chunk of its own with no choices, as OpenAI does.
   */
  usageWithChoice = true
  /** Added to every chat completion. */
  latencyMs = 0
  embeddingDim = 256
  #responder: Responder = echoResponder
  #script: ModelTurn[] = []
  #nextId = 1

  /** The value for LLM_BASE_URL. */
  get baseUrl(): string {
    return `${this.origin}/v1`
  }

  /** Answers every request not covered by `enqueue` with this function. */
  respondWith(responder: Responder): void {
    this.#responder = responder
  }

  /** The next requests get these turns, in order, before the responder takes over again. */
  enqueue(...turns: ModelTurn[]): void {
    this.#script.push(...turns)
  }

  async waitForRequests(count: number, timeoutMs = 20_000): Promise<ChatRequest[]> {
    return waitUntil(() => (this.requests.length >= count ? this.requests : undefined), `${count} model request(s) (have ${this.requests.length})`, timeoutMs)
  }

  protected async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? '/', 'http://x').pathname
    const authorization = req.headers.authorization
    if (!authorization?.startsWith('Bearer ') || authorization.length <= 'Bearer '.length) {
      return sendJson(res, 401, { error: { message: 'missing API key', type: 'invalid_request_error' } })
    }
    const bytes = await readBytes(req)
    if (req.method === 'GET' && path === '/v1/models') return sendJson(res, 200, { object: 'list', data: this.#models() })
    if (req.method === 'POST' && path === '/v1/audio/transcriptions') return this.#transcribe(bytes, String(req.headers['content-type']), authorization, res)
    let body: Record<string, unknown>
    try {
      body = JSON.parse(bytes.toString('utf8')) as Record<string, unknown>
    } catch {
      return sendJson(res, 400, { error: { message: 'invalid JSON body', type: 'invalid_request_error' } })
    }
    if (req.method === 'POST' && path === '/v1/chat/completions') return this.#chat(body, authorization, res)
    if (req.method === 'POST' && path === '/v1/embeddings') return this.#embeddings(body, res)
    sendJson(res, 404, { error: { message: `no route ${req.method} ${path}` } })
  }

  async #chat(body: Record<string, unknown>, authorization: string, res: ServerResponse): Promise<void> {
    if (!Array.isArray(body.messages)) return sendJson(res, 400, { error: { message: 'messages is required' } })
    const request: ChatRequest = {
      model: String(body.model),
      messages: body.messages as ChatMessage[],
      stream: body.stream === true,
      tools: Array.isArray(body.tools) ? body.tools : [],
      authorization,
    }
    this.requests.push(request)
    if (this.textOnlyModels.has(request.model) && imagesIn(request).length) {
      return sendJson(res, 404, { error: { message: 'No endpoints found that support image input', code: 404 } })
    }
    const turn = this.#script.shift() ?? (await this.#responder(request))
    const delay = this.latencyMs + (turn.delayMs ?? 0)
    if (delay) await sleep(delay)
    if (res.destroyed) return
    if (turn.status) return sendJson(res, turn.status, { error: { message: `emulated ${turn.status}`, type: 'server_error' } })
    if (turn.raw !== undefined) {
      // A streaming client gets the broken body as an event, as a broken provider would send it.
      if (request.stream) {
        res.writeHead(200, { 'content-type': 'text/event-stream' })
        return void res.end(`data: ${turn.raw}\n\n`)
      }
      res.writeHead(200, { 'content-type': 'application/json' })
      return void res.end(turn.raw)
    }
    const id = `chatcmpl-${this.#nextId++}`
    const toolCalls = (turn.toolCalls ?? []).map((t, i) => ({ id: t.id ?? `call_${id}_${i}`, type: 'function', function: { name: t.name, arguments: JSON.stringify(t.args) } }))
    const content = turn.content ?? (toolCalls.length ? null : '')
    const usage = { prompt_tokens: countTokens(JSON.stringify(request.messages)), completion_tokens: countTokens(content ?? ''), total_tokens: 0 }
    usage.total_tokens = usage.prompt_tokens + usage.completion_tokens
    const price = this.prices.get(request.model)
    if (price && this.reportCost) Object.assign(usage, { cost: usage.prompt_tokens * price.prompt + usage.completion_tokens * price.completion })
    const finish = toolCalls.length ? 'tool_calls' : 'stop'
    if (!request.stream) {
      return sendJson(res, 200, {
        id, object: 'chat.completion', created: Math.floor(Date.now() / 1000), model: request.model,
        choices: [{ index: 0, message: { role: 'assistant', content, ...(toolCalls.length && { tool_calls: toolCalls }) }, finish_reason: finish }],
        usage,
      })
    }
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' })
    const chunk = (delta: unknown, finishReason: string | null = null, extra: object = {}) =>
      res.write(`data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created: Math.floor(Date.now() / 1000), model: request.model, choices: [{ index: 0, delta, finish_reason: finishReason }], ...extra })}\n\n`)
    chunk({ role: 'assistant', content: '' })
    for (const piece of (content ?? '').match(/.{1,12}/gs) ?? []) {
      if (turn.chunkDelayMs) await sleep(turn.chunkDelayMs)
      chunk({ content: piece })
    }
    toolCalls.forEach((t, index) => chunk({ tool_calls: [{ index, id: t.id, type: 'function', function: { name: t.function.name, arguments: t.function.arguments } }] }))
    chunk({}, finish)
    const choices = this.usageWithChoice ? [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }] : []
    res.write(`data: ${JSON.stringify({ id, object: 'chat.completion.chunk', choices, usage })}\n\n`)
    res.end('data: [DONE]\n\n')
  }

  /** The model list: OpenRouter's shape, with per-token prices as decimal strings where they are published. */
  #models() {
    const ids = new Set(['test-model', ...this.prices.keys()])
    return [...ids].map((id) => {
      const p = this.publishPrices ? this.prices.get(id) : undefined
      return { id, object: 'model', ...(p && { pricing: { prompt: String(p.prompt), completion: String(p.completion), request: '0', image: '0' } }) }
    })
  }

  /** Whisper's API: multipart `file` + `model`, answering `{ text }` with the duration it heard. */
  async #transcribe(body: Buffer, contentType: string, authorization: string, res: ServerResponse): Promise<void> {
    const form = parseMultipart(body, contentType)
    const file = form.get('file')
    const model = form.get('model')?.data.toString('utf8')
    this.transcriptions.push({ model: String(model), fileName: file?.filename, bytes: file?.data.length ?? 0, authorization })
    if (this.transcription.delayMs) await sleep(this.transcription.delayMs)
    if (this.transcription.status) return sendJson(res, this.transcription.status, { error: { message: `emulated ${this.transcription.status}`, type: 'server_error' } })
    if (!file || !model) return sendJson(res, 400, { error: { message: "you must provide a 'file' and a 'model'", type: 'invalid_request_error' } })
    const audio = file.data.toString('utf8')
    if (!audio.startsWith(AUDIO_HEADER)) return sendJson(res, 400, { error: { message: 'Audio file might be corrupted or unsupported', type: 'invalid_request_error' } })
    const text = audio.slice(AUDIO_HEADER.length)
    sendJson(res, 200, { text, usage: { type: 'duration', seconds: Math.max(1, Math.ceil(text.length / 15)) } })
  }

  #embeddingCost(model: string, tokens: number): { cost?: number } {
    const price = this.prices.get(model)
    return price && this.reportCost ? { cost: tokens * price.prompt } : {}
  }

  #embeddings(body: Record<string, unknown>, res: ServerResponse): void {
    const input = typeof body.input === 'string' ? [body.input] : Array.isArray(body.input) ? body.input.map(String) : undefined
    if (!input) return sendJson(res, 400, { error: { message: 'input is required' } })
    const dim = typeof body.dimensions === 'number' ? body.dimensions : this.embeddingDim
    this.embeddingRequests.push({ input, model: String(body.model) })
    sendJson(res, 200, {
      object: 'list',
      model: body.model,
      data: input.map((text, index) => ({ object: 'embedding', index, embedding: hashedEmbedding(text, dim) })),
      usage: { prompt_tokens: countTokens(input.join(' ')), total_tokens: countTokens(input.join(' ')), ...this.#embeddingCost(String(body.model), countTokens(input.join(' '))) },
    })
  }
}

const countTokens = (text: string) => Math.max(1, Math.ceil(text.length / 4))

/**
 * A deterministic embedding that carries meaning: each word adds weight to a few hashed dimensions,
 * so texts sharing words are close in cosine distance. Unit length.
 */
export function hashedEmbedding(text: string, dim: number): number[] {
  const v = new Array<number>(dim).fill(0)
  for (const word of text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? []) {
    const h = createHash('sha256').update(word).digest()
    for (let k = 0; k < 3; k++) {
      const index = h.readUInt32BE(k * 4) % dim
      v[index] = (v[index] ?? 0) + (h[12 + k]! & 1 ? 1 : -1)
    }
  }
  const norm = Math.hypot(...v) || 1
  return v.map((x) => x / norm)
}
