import { limit } from '@grammyjs/ratelimiter'
import { addressesBot } from '../addressed.ts'
import type { Context } from '../context.ts'

export interface RateLimitSettings {
  /** Messages a person may send per window; 0 turns the limit off. */
  messages: number
  windowMs: number
}

/** Where the counters live: the two Redis commands the limiter uses (Postgres in the service). */
export interface RateLimitStore {
  incr(key: string): Promise<number>
  pexpire(key: string, milliseconds: number): Promise<number>
}

/**
 * Per-person rate limiting of messages (buttons are not limited: they answer the bot), with one
 * polite reply per window. Counters live in Postgres, so every instance counts the same. Admins
 * are exempt: they run the service.
 */
export function rateLimit(store: RateLimitStore, { messages, windowMs }: RateLimitSettings) {
  return limit<Context, RateLimitStore>({
    timeFrame: windowMs,
    limit: messages,
    storageClient: store,
    keyPrefix: 'msg:',
    keyGenerator: (ctx) => (ctx.message && ctx.from && !ctx.isAdmin && addressesBot(ctx) ? String(ctx.from.id) : undefined),
    // The limiter does not await this: the reply is ours to finish (and to log if it fails).
    onLimitExceeded: (ctx) => {
      ctx.log.warn({ limit: messages, windowMs }, 'rate limited')
      const wait = Math.max(1, Math.round(windowMs / 1000))
      ctx
        .reply(`You are sending messages faster than I can take them. Please wait about ${wait} seconds; messages sent meanwhile are skipped.`)
        .catch((err: unknown) => ctx.log.warn({ err }, 'could not send the rate-limit notice'))
    },
  })
}
