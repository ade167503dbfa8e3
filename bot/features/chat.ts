import { Composer } from 'grammy'
import { ModelError, describeModelError } from '../../agents/model.ts'
import { findByInterrupt } from '../../db/approvals.ts'
import { chatSession } from '../../db/chat-threads.ts'
import type { ChatPlace } from '../../db/chat-threads.ts'
import { flowDeps, presentOutcome, signed } from '../approvals/flow.ts'
import { textForBot } from '../addressed.ts'
import type { Context } from '../context.ts'
import { ReplyStream } from '../reply-stream.ts'
import { splitMessage } from '../split-message.ts'

const composer = new Composer<Context>()
const TYPING_EVERY_MS = 4500 // Telegram shows "typing" for about 5 s per action

/** Shows "typing" until `work` settles; a failing chat action never fails the turn. */
async function whileTyping<T>(ctx: Context, work: () => Promise<T>): Promise<T> {
  const type = () => ctx.replyWithChatAction('typing').catch((err: unknown) => ctx.log.debug({ err }, 'chat action failed'))
  void type()
  const timer = setInterval(() => void type(), TYPING_EVERY_MS)
  try {
    return await work()
  } finally {
    clearInterval(timer)
  }
}

/** Where a message's conversation lives: its chat, or its forum topic. */
export const placeOf = (ctx: Context): ChatPlace => {
  const msg = ctx.msg
  return { chatId: ctx.chat?.id ?? 0, topicId: msg?.is_topic_message ? msg.message_thread_id : undefined }
}

/**
 * One turn of the conversation, with `agent` if the turn names one (else the chat's active agent):
 * the answer streamed as it is written, an approval request, or (while the thread waits for a
 * decision) an answer beside it.
 */
export async function converse(ctx: Context, text: string, agent?: string): Promise<void> {
  const { chat, from } = ctx
  if (!chat || !from) return
  const { db, conversation } = ctx.services
  const place = placeOf(ctx)
  const session = await chatSession(db.pool, place)
  const { threadId } = session
  const requester = { id: from.id, name: from.first_name }
  const target = { chatId: chat.id, threadId, requester, topicId: place.topicId }
  const deps = flowDeps(ctx)
  const stream = new ReplyStream(ctx.api, { ...place, private: chat.type === 'private' }, ctx.log, ctx.update.update_id % 2 ** 31)
  try {
    await whileTyping(ctx, async () => {
      const pending = await conversation.pending(threadId)
      if (!pending) {
        const outcome = await conversation.reply({
          threadId,
          turnId: String(ctx.update.update_id),
          text,
          agent: agent ?? session.activeAgent,
          chatId: chat.id,
          userId: from.id,
          onText: (soFar, writer) => stream.push(signed(writer, soFar)),
        })
        ctx.log.info({ threadId, agent: outcome.kind === 'answer' ? outcome.agent : undefined, outcome: outcome.kind }, 'turn finished')
        return presentOutcome(deps, target, outcome, stream)
      }
      const request = await findByInterrupt(db.pool, pending.interruptId)
      // The thread waits on an approval whose message never went out (a crash): send it now.
      if (!request || request.messageId === null) return presentOutcome(deps, target, { kind: 'approval', ...pending })
      // Never feed a new message into an interrupted thread: answer beside it, the approval stays pending.
      const answer = await conversation.answerAside(threadId, text, pending.request, { chatId: chat.id, userId: from.id })
      for (const part of splitMessage(signed(answer.agent, answer.text))) await ctx.reply(part)
    })
  } catch (err) {
    await stream.discard()
    // The model gave up after its retries: tell the person and finish the update; retrying the
    // whole update would only repeat the same wait.
    if (!(err instanceof ModelError)) throw err
    ctx.log.error({ err, kind: err.kind, status: err.status, threadId }, 'model failed')
    await ctx.reply(describeModelError(err))
  }
}

composer.on('message:text', async (ctx, next) => {
  const text = textForBot(ctx.message, ctx.me)
  if (text === undefined) return next()
  if (!text) return void (await ctx.reply('Yes? Write your question after the mention.'))
  await converse(ctx, text)
})

export { composer as chatFeature }
