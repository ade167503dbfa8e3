import type { Pool } from '../../db/database.ts'
import * as inbox from '../../db/inbox.ts'
import type { HealthReport } from './protocol.ts'

export interface HealthSources {
  pool: Pool
  dispatcherStatus: () => { healthy: boolean; active: number; lastError: string | undefined }
  /** Parts whose trouble is reported but does not make the service unhealthy (MCP servers), by name. */
  optionalComponents: () => Record<string, { ok: boolean } & Record<string, unknown>>
  draining: () => boolean
}

/** /health as the main thread sees it: the database, the dispatcher, the inbox's depth and age, optional parts. */
export async function healthReport(o: HealthSources): Promise<HealthReport> {
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
  const draining = o.draining()
  const ok = database.ok === true && dispatcher.healthy && !draining
  return {
    ok,
    body: {
      status: ok ? 'ok' : 'unavailable',
      components: {
        database,
        dispatcher: { ok: dispatcher.healthy, active: dispatcher.active, ...(dispatcher.lastError && { error: dispatcher.lastError }) },
        inbox: queue ? { depth: queue.depth, running: queue.running, oldestQueuedSeconds: queue.oldestQueuedSeconds, failedLastDay: queue.failedLastDay } : { ok: false },
        ...o.optionalComponents(),
      },
      draining,
    },
  }
}
