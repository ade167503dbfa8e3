import type { CommandContext } from 'grammy'
import type { Context } from '../context.ts'
import { personOf, placeOf } from '../people.ts'

export async function newConversation(ctx: CommandContext<Context>): Promise<void> {
  const previous = await ctx.services.chats.startNew(placeOf(ctx), personOf(ctx), ctx.update.update_id)
  ctx.log.info({ previousThread: previous }, 'conversation reset')
  await ctx.reply('Started a new conversation. What is on your mind?')
}
