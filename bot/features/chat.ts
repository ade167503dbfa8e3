import { Composer } from 'grammy'
import { ModelError, describeModelError } from '../../agents/model.ts'
import { currentThread } from '../../db/chat-threads.ts'
import type { Context } from '../context.ts'
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

composer.on('message:text', async (ctx) => {
  const { db, conversation } = ctx.services
  const threadId = await currentThread(db.pool, ctx.chat.id)
  let answer: string
  try {
    answer = await whileTyping(ctx, () =>
      conversation.reply({ threadId, turnId: String(ctx.update.update_id), text: ctx.message.text }),
    )
  } catch (err) {
    // The model gave up after its retries: tell the person and finish the update; retrying the
    // whole update would only repeat the same wait.
    if (!(err instanceof ModelError)) throw err
    ctx.log.error({ err, kind: err.kind, status: err.status, threadId }, 'model failed')
    await ctx.reply(describeModelError(err))
    return
  }
  for (const part of splitMessage(answer)) await ctx.reply(part)
})

export { composer as chatFeature }
