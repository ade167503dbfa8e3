import { readFileSync } from 'node:fs'
import { z } from 'zod'
import type { Logger } from '../logger.ts'

/** A model's price in US dollars: per input and output token, and per second of audio for speech to text. */
export interface ModelPrice {
  input: number
  output: number
  audioSecond?: number | undefined
}

/** What a call used, to be priced. */
export interface CallUse {
  inputTokens: number
  outputTokens: number
  audioSeconds?: number | undefined
}

/** A MODEL_PRICES file: US dollars per million tokens (and per minute of audio), by model name. */
const priceFileSchema = z.record(
  z.string().min(1).max(200),
  z.strictObject({
    inputPerMillion: z.number().min(0).max(10_000),
    outputPerMillion: z.number().min(0).max(10_000),
    audioPerMinute: z.number().min(0).max(100).optional(),
  }),
)

/** The price file could not be used: the message names the file and the problem, never its contents. */
export class PriceFileError extends Error {
  override name = 'PriceFileError'
}

/** Reads and checks a MODEL_PRICES file (at start: a bad file stops the service with one sentence). */
export function loadPriceFile(path: string): Map<string, ModelPrice> {
  let raw: unknown
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'))
  } catch (err) {
    throw new PriceFileError(`MODEL_PRICES (${path}) could not be read as JSON: ${err instanceof Error ? err.message.slice(0, 200) : 'unreadable'}`)
  }
  const parsed = priceFileSchema.safeParse(raw)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    throw new PriceFileError(`MODEL_PRICES (${path}): ${issue?.path.join('.') || 'the file'} ${issue?.message ?? 'is invalid'}; expected {"model": {"inputPerMillion": 0.15, "outputPerMillion": 0.6}}`)
  }
  return new Map(Object.entries(parsed.data).map(([model, p]) => [model, { input: p.inputPerMillion / 1e6, output: p.outputPerMillion / 1e6, ...(p.audioPerMinute !== undefined && { audioSecond: p.audioPerMinute / 60 }) }]))
}

/** OpenRouter's model list (`GET /models`): prices per token as decimal strings. Other endpoints publish none. */
const modelListSchema = z.object({
  data: z
    .array(z.object({ id: z.string().max(200), pricing: z.object({ prompt: z.coerce.number().min(0), completion: z.coerce.number().min(0) }).partial().optional() }).loose())
    .max(20_000),
})

const LIST_MAX_BYTES = 16 * 1024 * 1024
const REFRESH_MS = 6 * 3600_000
const RETRY_MS = 10 * 60_000

/**
 * Prices of models, for calls whose provider reports no cost: the endpoint's own model list where it
 * publishes pricing (OpenRouter's `/models`, fetched at first need and every six hours; a failure is
 * tried again after ten minutes), else the MODEL_PRICES file. A model found in neither has no price,
 * and its calls are recorded as unknown, never as free.
 */
export class Prices {
  readonly #listUrl: string | undefined
  readonly #apiKey: string
  readonly #file: ReadonlyMap<string, ModelPrice>
  readonly #log: Logger
  #list: Map<string, ModelPrice> = new Map()
  #nextFetch = 0
  #fetching: Promise<void> | undefined

  constructor(o: { baseUrl: string | undefined; apiKey: string; file?: ReadonlyMap<string, ModelPrice> | undefined; log: Logger }) {
    this.#listUrl = o.baseUrl && `${o.baseUrl.replace(/\/+$/, '')}/models`
    this.#apiKey = o.apiKey
    this.#file = o.file ?? new Map()
    this.#log = o.log
  }

  /** A model's price, or undefined when none is known. */
  async priceOf(model: string): Promise<ModelPrice | undefined> {
    await this.#refresh()
    return this.#list.get(model) ?? this.#file.get(model)
  }

  /** What a call cost by the price list, or undefined when the model has no price. */
  async costOf(model: string, use: CallUse): Promise<number | undefined> {
    const p = await this.priceOf(model)
    if (!p) return undefined
    if (use.audioSeconds) return p.audioSecond === undefined ? undefined : use.audioSeconds * p.audioSecond
    return use.inputTokens * p.input + use.outputTokens * p.output
  }

  async #refresh(): Promise<void> {
    if (!this.#listUrl || Date.now() < this.#nextFetch) return
    this.#fetching ??= this.#fetchList(this.#listUrl).finally(() => (this.#fetching = undefined))
    await this.#fetching
  }

  async #fetchList(url: string): Promise<void> {
    try {
      const res = await fetch(url, { headers: { authorization: `Bearer ${this.#apiKey}` }, signal: AbortSignal.timeout(10_000) })
      if (!res.ok) throw new Error(`the model list answered ${res.status}`)
      const text = await res.text()
      if (text.length > LIST_MAX_BYTES) throw new Error('the model list is too large')
      const parsed = modelListSchema.safeParse(JSON.parse(text))
      if (!parsed.success) throw new Error('the model list is not in the expected shape')
      const priced = parsed.data.data.filter((m) => m.pricing?.prompt !== undefined && m.pricing.completion !== undefined)
      this.#list = new Map(priced.map((m) => [m.id, { input: m.pricing!.prompt!, output: m.pricing!.completion! }]))
      this.#nextFetch = Date.now() + REFRESH_MS
      this.#log.info({ models: this.#list.size }, 'model prices read from the endpoint')
    } catch (err) {
      this.#nextFetch = Date.now() + RETRY_MS
      this.#log.warn({ err: err instanceof Error ? err.message : String(err) }, 'could not read model prices from the endpoint; using MODEL_PRICES where it has them')
    }
  }
}
