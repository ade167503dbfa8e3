import { Composer } from 'grammy'
import { ModelError, describeModelError } from '../../agents/model.ts'
import { findByInterrupt } from '../../db/approvals.ts'
import { currentThread } from '../../db/chat-threads.ts'
import { flowDeps, presentOutcome } from '../approvals/flow.ts'
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

/**
 * One turn of the conversation with `agent` (the chat's default when unset): the answer, an approval
 * request, or (while the thread waits for a decision) an answer beside it.
 */
export async function converse(ctx: Context, text: string, agent?: string): Promise<void> {
  const { chat, from } = ctx
  if (!chat || !from) return
  const { db, conversation } = ctx.services
  const threadId = await currentThread(db.pool, chat.id)
  const requester = { id: from.id, name: from.first_name }
  const target = { chatId: chat.id, threadId, requester }
  const deps = flowDeps(ctx)
  try {
    await whileTyping(ctx, async () => {
      const pending = await conversation.pending(threadId)
      if (!pending) {
        const outcome = await conversation.reply({ threadId, turnId: String(ctx.update.update_id), text, agent, chatId: chat.id, userId: from.id })
        return presentOutcome(deps, target, outcome)
      }
      const request = await findByInterrupt(db.pool, pending.interruptId)
      // The thread waits on an approval whose message never went out (a crash): send it now.
      if (!request || request.messageId === null) return presentOutcome(deps, target, { kind: 'approval', ...pending })
      // Never feed a new message into an interrupted thread: answer beside it, the approval stays pending.
      const answer = await conversation.answerAside(threadId, text, pending.request)
      for (const part of splitMessage(answer)) await ctx.reply(part)
    })
  } catch (err) {
    // The model gave up after its retries: tell the person and finish the update; retrying the
    // whole update would only repeat the same wait.
    if (!(err instanceof ModelError)) throw err
    ctx.log.error({ err, kind: err.kind, status: err.status, threadId }, 'model failed')
    await ctx.reply(describeModelError(err))
  }
}

composer.on('message:text', (ctx) => converse(ctx, ctx.message.text))

export { composer as chatFeature }
