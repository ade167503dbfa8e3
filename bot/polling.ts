import type { Api } from 'grammy'
import type { Pool } from '../db/database.ts'
import * as inbox from '../db/inbox.ts'
import type { Logger } from '../logger.ts'
import { ALLOWED_UPDATES, routeUpdate } from './update.ts'

export interface PollerOptions {
  api: Api
  pool: Pool
  log: Logger
  onStored: () => void
  /** A new update was stored (metrics). */
  onReceived?: (kind: string) => void
  /** Long-poll timeout Telegram holds a getUpdates call open, in seconds. */
  timeoutSeconds?: number
}

/**
 * Long polling for local use: getUpdates → the same inbox the webhook writes to. An update is
 * confirmed to Telegram (by the next offset) only after it is stored, so a crash loses nothing.
 */
export class Poller {
  readonly #o: PollerOptions
  readonly #abort = new AbortController()
  #loop: Promise<void> | undefined

  constructor(options: PollerOptions) {
    this.#o = options
  }

  async start(): Promise<void> {
    await this.#o.api.deleteWebhook()
    this.#loop = this.#run()
  }

  async stop(): Promise<void> {
    this.#abort.abort()
    await this.#loop
  }

  async #run(): Promise<void> {
    const { api, pool, log, onStored } = this.#o
    let offset: number | undefined
    let backoffMs = 1000
    while (!this.#abort.signal.aborted) {
      try {
        const updates = await api.getUpdates(
          { offset, timeout: this.#o.timeoutSeconds ?? 25, allowed_updates: [...ALLOWED_UPDATES] },
          // grammY types its signal with an old shim; the runtime takes the standard one.
          this.#abort.signal as Parameters<Api['getUpdates']>[1],
        )
        for (const raw of updates) {
          const update = routeUpdate(raw)
          if (update && (await inbox.enqueue(pool, update))) this.#o.onReceived?.(update.kind)
          else log.warn({ updateId: raw.update_id }, 'skipped an update that failed validation')
          offset = raw.update_id + 1
        }
        if (updates.length) onStored()
        backoffMs = 1000
      } catch (err) {
        if (this.#abort.signal.aborted) break
        log.warn({ err, backoffMs }, 'polling failed; retrying')
        await new Promise((r) => setTimeout(r, backoffMs))
        backoffMs = Math.min(backoffMs * 2, 30_000)
      }
    }
  }
}
