import type { NextFunction, Transformer } from 'grammy'
import type { Context } from '../context.ts'

/** Telegram shows a spinner on a pressed button until its query is answered: within a second at most. */
export const ANSWER_WITHIN_MS = 800

/**
 * Every button press is answered, once, within a second, whatever happens after: a handler that is
 * slow to answer (a busy database) gets an empty answer in time, a handler that never answers (or
 * fails) gets one at the end, and an answer after that is skipped rather than refused by Telegram.
 * Install first: it watches the answers of every later middleware, wizards included, through the
 * update's own API client.
 */
export async function answerEveryButton(ctx: Context, next: NextFunction): Promise<void> {
  const query = ctx.callbackQuery
  if (!query) return next()
  let answered = false
  const once: Transformer = (prev, method, payload, signal) => {
    if (method !== 'answerCallbackQuery' || (payload as { callback_query_id?: string }).callback_query_id !== query.id) return prev(method, payload, signal)
    if (answered) {
      ctx.log.debug('button already answered; later answer skipped')
      return Promise.resolve({ ok: true, result: true } as Awaited<ReturnType<typeof prev>>)
    }
    answered = true
    return prev(method, payload, signal)
  }
  ctx.api.config.use(once)
  const answer = () => (answered ? Promise.resolve() : ctx.answerCallbackQuery().then(() => undefined, (err: unknown) => ctx.log.warn({ err }, 'could not answer a button')))
  const timer = setTimeout(() => void answer(), ANSWER_WITHIN_MS)
  try {
    await next()
  } finally {
    clearTimeout(timer)
    await answer()
  }
}
