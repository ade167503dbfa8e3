import type { NextFunction } from 'grammy'
import { addressesBot } from '../addressed.ts'
import type { Context } from '../context.ts'
import { updateKind } from '../update.ts'

/**
 * Serves admins, and people on the allow list (env) or allowed in the users table unless an admin
 * denied them. Anyone else gets one line with their numeric id, so they can ask an admin, and an
 * audit entry is written.
 */
export async function auth(ctx: Context, next: NextFunction): Promise<void> {
  const from = ctx.from
  if (!from || from.is_bot) return // channel posts, service messages: nobody to serve
  const { access } = ctx.services
  const admitted = await access.admit({ id: from.id, username: from.username, firstName: from.first_name })
  ctx.isAdmin = admitted.isAdmin
  if (admitted.allowed) return next()
  // A group's other members talk among themselves: refuse only what is addressed to the bot.
  if (!addressesBot(ctx)) return

  ctx.log.warn('access denied')
  await access.refused(from.id, ctx.chat?.id, updateKind(ctx.update))
  const refusal = `Sorry, this bot is private. Your Telegram id is ${from.id}: an admin can allow it.`
  if (ctx.callbackQuery) await ctx.answerCallbackQuery({ text: refusal, show_alert: true })
  else if (ctx.message) await ctx.reply(refusal)
}
