import { Composer } from 'grammy'
import { startNewThread } from '../../db/chat-threads.ts'
import type { Context } from '../context.ts'

const composer = new Composer<Context>()

const HELP = [
  'I am Mechanic, your own agent on Telegram.',
  '',
  'Just write to me and I will answer; I remember our conversation.',
  '/new - start a fresh conversation',
  '/help - this message',
].join('\n')

composer.command('start', async (ctx) => {
  await ctx.reply(`Hello${ctx.from?.first_name ? `, ${ctx.from.first_name}` : ''}! ${HELP}`)
})

composer.command('help', async (ctx) => {
  await ctx.reply(ctx.isAdmin ? `${HELP}\n\nAdmin:\n/status - service health and figures` : HELP)
})

composer.command('new', async (ctx) => {
  const { db, conversation } = ctx.services
  const { previous } = await startNewThread(db.pool, ctx.chat.id)
  if (previous) await conversation.forget(previous)
  ctx.log.info({ previousThread: previous }, 'conversation reset')
  await ctx.reply('Started a new conversation. What is on your mind?')
})

export { composer as commandsFeature }
