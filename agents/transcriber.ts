import OpenAI, { APIConnectionError, APIError, toFile } from 'openai'
import { KindedError } from '../domain/failure.ts'

export interface TranscriptionSettings {
  apiKey: string
  baseUrl: string
  model: string
  timeoutMs: number
  maxRetries: number
}

/** Why speech could not become text: the endpoint does not offer it, it refused this audio, or it failed this time. */
export type TranscriptionFailure = 'not_set_up' | 'unreadable' | 'unavailable'

export class TranscriptionError extends KindedError<TranscriptionFailure> {
  override name = 'TranscriptionError'
}

/** What the endpoint heard, and what it reports having used (for usage figures). */
export interface Transcript {
  text: string
  audioSeconds?: number | undefined
  inputTokens?: number | undefined
  outputTokens?: number | undefined
}

/** The longest transcript taken (a 20 MB voice note holds hours of speech; a turn does not need more). */
export const TRANSCRIPT_MAX_CHARS = 20_000

/**
 * Speech to text on an OpenAI-compatible `POST /audio/transcriptions` (OpenAI, Groq, a local
 * whisper server), through the official `openai` client: multipart `file` + `model`, retried by the
 * client on 429, 5xx and timeouts.
 */
export class Transcriber {
  readonly #client: OpenAI
  readonly model: string

  constructor(s: TranscriptionSettings) {
    this.#client = new OpenAI({ apiKey: s.apiKey, baseURL: s.baseUrl, timeout: s.timeoutMs, maxRetries: s.maxRetries })
    this.model = s.model
  }

  async transcribe(audio: Buffer, fileName: string): Promise<Transcript> {
    let answer: { text?: unknown; usage?: unknown }
    try {
      answer = await this.#client.audio.transcriptions.create({ file: await toFile(audio, fileName), model: this.model, response_format: 'json' })
    } catch (err) {
      throw toTranscriptionError(err)
    }
    if (typeof answer.text !== 'string') throw new TranscriptionError('unavailable', 'the transcription endpoint answered without text')
    const usage = answer.usage as { type?: string; seconds?: unknown; input_tokens?: unknown; output_tokens?: unknown } | undefined
    const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : undefined)
    return {
      text: answer.text.trim().slice(0, TRANSCRIPT_MAX_CHARS),
      audioSeconds: usage?.type === 'duration' ? num(usage.seconds) : undefined,
      inputTokens: usage?.type === 'tokens' ? num(usage.input_tokens) : undefined,
      outputTokens: usage?.type === 'tokens' ? num(usage.output_tokens) : undefined,
    }
  }
}

/**
 * 401, 403, 404, 405 (no such route, model or key) mean transcription is not set up; 400, 413, 415,
 * 422 that it refused this audio; a 429, 5xx, timeout or unreachable endpoint that it failed this time.
 */
function toTranscriptionError(err: unknown): TranscriptionError {
  const status: unknown = err instanceof APIError && !(err instanceof APIConnectionError) ? err.status : undefined
  if (typeof status === 'number') {
    const kind = [401, 403, 404, 405].includes(status) ? 'not_set_up' : [400, 413, 415, 422].includes(status) ? 'unreadable' : 'unavailable'
    return new TranscriptionError(kind, `transcription endpoint answered ${status}`, { cause: err, status })
  }
  return new TranscriptionError('unavailable', `transcription request failed: ${err instanceof Error ? err.message : String(err)}`, { cause: err })
}
