import { Composer } from 'grammy'
import { decide, pendingForChat } from '../../db/approvals.ts'
import { startNewThread } from '../../db/chat-threads.ts'
import { settle } from '../approvals/flow.ts'
import type { Context } from '../context.ts'

const composer = new Composer<Context>()

const HELP = [
  'I am Mechanic, your own agent on Telegram.',
  '',
  'Just write to me and I will answer; I remember our conversation.',
  'When I want to do something risky, I ask first: press Approve, Reject or Edit.',
  '/new - start a fresh conversation',
  '/cancel - cancel the request waiting for your approval',
  '/help - this message',
].join('\n')

composer.command('start', async (ctx) => {
  await ctx.reply(`Hello${ctx.from?.first_name ? `, ${ctx.from.first_name}` : ''}! ${HELP}`)
})

composer.command('help', async (ctx) => {
  await ctx.reply(ctx.isAdmin ? `${HELP}\n\nAdmin:\n/status - service health and figures\n/approvals - approvals waiting for a decision` : HELP)
})

composer.command('new', async (ctx) => {
  const { db, conversation } = ctx.services
  // A request of the old conversation cannot be carried out once its thread is gone.
  const waiting = await pendingForChat(db.pool, ctx.chat.id)
  if (waiting) {
    const decided = await decide(db.pool, { id: waiting.id, status: 'cancelled', by: ctx.from?.id ?? 0, decision: { type: 'reject', message: 'A new conversation was started.' }, updateId: ctx.update.update_id })
    if (decided) await settle({ api: ctx.api, db, conversation, log: ctx.log, approvalTtlMs: ctx.services.approvalTtlMs }, decided, { id: ctx.from?.id ?? 0, name: ctx.from?.first_name ?? '' })
  }
  const { previous } = await startNewThread(db.pool, ctx.chat.id)
  if (previous) await conversation.forget(previous)
  ctx.log.info({ previousThread: previous }, 'conversation reset')
  await ctx.reply('Started a new conversation. What is on your mind?')
})

export { composer as commandsFeature }
