import type { NextFunction } from 'grammy'
import type { Logger } from '../../logger.ts'
import type { Context, Services } from '../context.ts'
import { updateKind } from '../update.ts'

/** Gives each update its own child logger (tagged with update_id, chat and user) and the services. */
export function attach(log: Logger, services: Services) {
  return async (ctx: Context, next: NextFunction): Promise<void> => {
    ctx.services = services
    ctx.isAdmin = false
    ctx.log = log.child({ updateId: ctx.update.update_id, chatId: ctx.chat?.id, userId: ctx.from?.id })
    const started = performance.now()
    ctx.log.debug({ kind: updateKind(ctx.update) }, 'update received')
    await next()
    ctx.log.info({ ms: Math.round(performance.now() - started) }, 'update handled')
  }
}
