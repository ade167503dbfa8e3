import { timingSafeEqual } from 'node:crypto'
import { createServer } from 'node:http'
import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import type { Logger } from '../../logger.ts'
import { routeUpdate } from '../update.ts'
import type { RoutedUpdate } from '../update.ts'
import type { Answer, HealthReport } from './protocol.ts'

export const WEBHOOK_PATH = '/telegram/webhook'
const MAX_BODY_BYTES = 1024 * 1024

/**
 * Telegram keeps up to 40 webhook connections open and reuses them between bursts. Node's default
 * keep-alive (5 s) closed them in every lull, so each burst paid for new connections, accepted one
 * per loop iteration: the ack tail of 1 s and more. Two minutes outlasts Telegram's reuse window.
 */
const KEEP_ALIVE_MS = 120_000

export interface IngestServerOptions {
  log: Logger
  /** Required header value; undefined disables the webhook route (polling mode). */
  webhookSecret: string | undefined
  /** Makes an update durable; resolves with whether it was new (a repeat changes nothing). */
  store: (update: RoutedUpdate) => Promise<boolean>
  /** /health as the main thread sees it, undefined when it did not answer in time. */
  health: () => Promise<HealthReport | undefined>
  /** /metrics: the main thread's and this thread's, in the Prometheus text format. */
  metrics: () => Promise<Answer>
  /** This thread's own component in /health (event-loop delay, updates waiting to be written). */
  ingestComponent: () => Record<string, unknown>
  /** Told how each webhook POST ended and how long it took. */
  observe: (outcome: 'stored' | 'duplicate' | 'refused' | 'failed', ms: number) => void
}

class HttpError extends Error {
  readonly status: number
  constructor(status: number, message: string) {
    super(message)
    this.status = status
  }
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body)
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) })
  res.end(text)
}

function secretMatches(given: string | string[] | undefined, expected: string): boolean {
  if (typeof given !== 'string') return false
  const a = Buffer.from(given)
  const b = Buffer.from(expected)
  return a.length === b.length && timingSafeEqual(a, b)
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length
    if (size > MAX_BODY_BYTES) throw new HttpError(413, 'body too large')
    chunks.push(chunk)
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'))
  } catch {
    throw new HttpError(400, 'body is not JSON')
  }
}

/**
 * The HTTP surface, run on the ingest thread: the Telegram webhook (stores the update, then answers
 * 200) beside /health and /metrics. A webhook request is acknowledged only after its update is
 * durable; a storage failure answers 503 so that Telegram delivers the update again later.
 */
export function createIngestServer(o: IngestServerOptions): Server & { draining: boolean } {
  const server = Object.assign(createServer({ keepAliveTimeout: KEEP_ALIVE_MS, headersTimeout: KEEP_ALIVE_MS + 5000 }), { draining: false })

  async function webhook(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const t0 = performance.now()
    if (o.webhookSecret === undefined) return send(res, 404, { error: 'webhook mode is off' })
    if (!secretMatches(req.headers['x-telegram-bot-api-secret-token'], o.webhookSecret)) return send(res, 401, { error: 'unauthorized' })
    // Shutting down: Telegram retries, and the next instance takes it.
    if (server.draining) return send(res, 503, { error: 'shutting down' })
    const update = routeUpdate(await readJson(req))
    if (!update) throw new HttpError(400, 'not a Telegram update')
    try {
      const isNew = await o.store(update)
      o.log.debug({ updateId: update.updateId, lane: update.lane, duplicate: !isNew }, 'update stored')
      send(res, 200, {})
      o.observe(isNew ? 'stored' : 'duplicate', performance.now() - t0)
    } catch (err) {
      o.log.error({ err, updateId: update.updateId }, 'could not store an update; Telegram will deliver it again')
      res.setHeader('retry-after', '5')
      send(res, 503, { error: 'storage unavailable' })
      o.observe('failed', performance.now() - t0)
    }
  }

  async function health(res: ServerResponse): Promise<void> {
    const report = await o.health()
    const ingest = { ok: true, ...o.ingestComponent() }
    if (!report) {
      const main = { ok: false, error: 'the main thread did not answer in time' }
      return send(res, 503, { status: 'unavailable', components: { main, ingest }, draining: server.draining })
    }
    const ok = report.ok && !server.draining
    send(res, ok ? 200 : 503, { ...report.body, status: ok ? 'ok' : 'unavailable', components: { ...report.body.components, ingest }, draining: server.draining })
  }

  async function metrics(res: ServerResponse): Promise<void> {
    const { status, contentType, body } = await o.metrics()
    res.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(body) })
    res.end(body)
  }

  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0]
    const route =
      req.method === 'POST' && path === WEBHOOK_PATH ? webhook(req, res)
      : req.method === 'GET' && path === '/health' ? health(res)
      : req.method === 'GET' && path === '/metrics' ? metrics(res)
      : Promise.resolve(send(res, 404, { error: 'not found' }))
    route.catch((err: unknown) => {
      const status = err instanceof HttpError ? err.status : 500
      if (status === 500) o.log.error({ err, path }, 'request failed')
      else o.log.warn({ status, path, reason: (err as Error).message }, 'bad request')
      if (path === WEBHOOK_PATH) o.observe('refused', 0)
      if (!res.headersSent) send(res, status, { error: err instanceof HttpError ? err.message : 'internal error' })
    })
  })
  return server
}
