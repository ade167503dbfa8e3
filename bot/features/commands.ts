import { Composer } from 'grammy'
import { pendingForChat } from '../../db/approvals.ts'
import { startNewThread } from '../../db/chat-threads.ts'
import { decideAndSettle } from '../approvals/flow.ts'
import type { Context } from '../context.ts'
import { placeOf } from './chat.ts'

const composer = new Composer<Context>()

const HELP = [
  'I am Mechanic, your own agent on Telegram.',
  '',
  'Just write to me and I will answer; I remember our conversation.',
  'When I want to do something risky, I ask first: press Approve, Reject or Edit.',
  'Start a message with @name to ask one agent; in a group, mention me or reply to me.',
  '/agents - the agents, and which one this chat talks to; /agent <name> - switch',
  '/newagent, /editagent <name>, /deleteagent <name> - your own agents',
  '/new - start a fresh conversation (I still remember what you asked me to)',
  '/memory - what I remember about you; /forget all - forget everything',
  '/usage - the tokens your messages used',
  '/cancel - cancel the request waiting for your approval, the running task, or a wizard',
  '/help - this message',
].join('\n')

const CODER_HELP = [
  '',
  'Coding:',
  '/code <what to change> - the coder plans a change; after you approve, aider makes it on a branch,',
  'you see the diff and decide: Push or Discard',
  '/tasks - recent tasks and what they are doing',
].join('\n')

const ADMIN_HELP = [
  'Admin:',
  '/status - service health and figures',
  '/approvals - approvals waiting for a decision',
  '/users - people and their access; /allow <id>, /deny <id>',
  '/model [name] - show or set the default model',
  '/usage - everyone\'s tokens (/usage me for yours)',
].join('\n')

composer.command('start', async (ctx) => {
  await ctx.reply(`Hello${ctx.from?.first_name ? `, ${ctx.from.first_name}` : ''}! ${HELP}`)
})

composer.command('help', async (ctx) => {
  const help = ctx.services.coderEnabled ? `${HELP}\n${CODER_HELP}` : HELP
  await ctx.reply(ctx.isAdmin ? `${help}\n\n${ADMIN_HELP}` : help)
})

composer.command('new', async (ctx) => {
  const { db, conversation } = ctx.services
  // A request of the old conversation cannot be carried out once its thread is gone.
  const waiting = await pendingForChat(db.pool, ctx.chat.id)
  if (waiting) {
    await decideAndSettle(ctx, waiting, 'cancelled', { type: 'reject', message: 'A new conversation was started.' })
  }
  const { previous } = await startNewThread(db.pool, placeOf(ctx))
  if (previous) await conversation.forget(previous)
  ctx.log.info({ previousThread: previous }, 'conversation reset')
  await ctx.reply('Started a new conversation. What is on your mind?')
})

export { composer as commandsFeature }
