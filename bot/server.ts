import { timingSafeEqual } from 'node:crypto'
import { createServer } from 'node:http'
import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import type { Pool } from '../db/database.ts'
import * as inbox from '../db/inbox.ts'
import type { Logger } from '../logger.ts'
import { routeUpdate } from './update.ts'

export const WEBHOOK_PATH = '/telegram/webhook'
const MAX_BODY_BYTES = 1024 * 1024

export interface ServerOptions {
  pool: Pool
  log: Logger
  /** Required header value; undefined disables the webhook route (polling mode). */
  webhookSecret: string | undefined
  /** Called after an update was stored, to start its handling now. */
  onStored: () => void
  dispatcherStatus: () => { healthy: boolean; active: number; lastError: string | undefined }
  /** Parts whose trouble is reported but does not make the service unhealthy (MCP servers), by name. */
  optionalComponents?: (() => Record<string, { ok: boolean } & Record<string, unknown>>) | undefined
  /** `GET /metrics` in the Prometheus text format; the route is off without it. */
  metrics?: { render(): Promise<{ contentType: string; body: string }>; updatesReceived: { inc(labels: { kind: string }): void } } | undefined
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
 * The HTTP surface: the Telegram webhook (stores the update, then answers 200), /health. A webhook
 * request is acknowledged only after its row is committed; a database failure answers 503 so that
 * Telegram delivers the update again later.
 */
export function createHttpServer(o: ServerOptions): Server & { draining: boolean } {
  const server = Object.assign(createServer(), { draining: false })

  async function webhook(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (o.webhookSecret === undefined) return send(res, 404, { error: 'webhook mode is off' })
    if (!secretMatches(req.headers['x-telegram-bot-api-secret-token'], o.webhookSecret)) return send(res, 401, { error: 'unauthorized' })
    // Shutting down: Telegram retries, and the next instance takes it.
    if (server.draining) return send(res, 503, { error: 'shutting down' })
    const update = routeUpdate(await readJson(req))
    if (!update) throw new HttpError(400, 'not a Telegram update')
    try {
      const isNew = await inbox.enqueue(o.pool, update)
      if (isNew) o.metrics?.updatesReceived.inc({ kind: update.kind })
      o.log.debug({ updateId: update.updateId, lane: update.lane, duplicate: !isNew }, 'update stored')
    } catch (err) {
      o.log.error({ err, updateId: update.updateId }, 'could not store an update; Telegram will deliver it again')
      res.setHeader('retry-after', '5')
      return send(res, 503, { error: 'storage unavailable' })
    }
    send(res, 200, {})
    o.onStored()
  }

  async function health(res: ServerResponse): Promise<void> {
    const t0 = performance.now()
    let database: Record<string, unknown>
    let queue: inbox.InboxStats | undefined
    try {
      queue = await inbox.stats(o.pool)
      database = { ok: true, latencyMs: Math.round((performance.now() - t0) * 10) / 10 }
    } catch (err) {
      database = { ok: false, error: err instanceof Error ? err.message : String(err) }
    }
    const dispatcher = o.dispatcherStatus()
    const ok = database.ok === true && dispatcher.healthy && !server.draining
    send(res, ok ? 200 : 503, {
      status: ok ? 'ok' : 'unavailable',
      components: {
        database,
        dispatcher: { ok: dispatcher.healthy, active: dispatcher.active, ...(dispatcher.lastError && { error: dispatcher.lastError }) },
        inbox: queue ? { depth: queue.depth, running: queue.running, oldestQueuedSeconds: queue.oldestQueuedSeconds, failedLastDay: queue.failedLastDay } : { ok: false },
        ...o.optionalComponents?.(),
      },
      draining: server.draining,
    })
  }

  async function metrics(res: ServerResponse, m: NonNullable<ServerOptions['metrics']>): Promise<void> {
    const { contentType, body } = await m.render()
    res.writeHead(200, { 'content-type': contentType, 'content-length': Buffer.byteLength(body) })
    res.end(body)
  }

  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0]
    const route =
      req.method === 'POST' && path === WEBHOOK_PATH ? webhook(req, res)
      : req.method === 'GET' && path === '/health' ? health(res)
      : req.method === 'GET' && path === '/metrics' && o.metrics ? metrics(res, o.metrics)
      : Promise.resolve(send(res, 404, { error: 'not found' }))
    route.catch((err: unknown) => {
      const status = err instanceof HttpError ? err.status : 500
      if (status === 500) o.log.error({ err, path }, 'request failed')
      else o.log.warn({ status, path, reason: (err as Error).message }, 'bad request')
      if (!res.headersSent) send(res, status, { error: err instanceof HttpError ? err.message : 'internal error' })
    })
  })
  return server
}
