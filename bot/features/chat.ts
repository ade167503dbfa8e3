import type { TurnHints } from '../../agents/tools/tool.ts'
import { Composer } from 'grammy'
import { ModelError } from '../../agents/model.ts'
import type { Attachment } from '../../domain/attachments.ts'
import { textForBot } from '../addressed.ts'
import type { Context } from '../context.ts'
import { describeModelError } from '../model-errors.ts'
import { answerParts } from '../format/reply.ts'
import { personOf, placeOf } from '../people.ts'
import { ReplyStream } from '../reply-stream.ts'

const composer = new Composer<Context>()
const MODEL_CANNOT_SEE = 'This model cannot read images. Please describe it in words, or ask an admin for a model that takes images (/model).'
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

/** What a person said: text (typed, a caption, or a transcript), and photos or files that came with it. */
export interface SaidMessage {
  text: string
  attachments?: readonly Attachment[] | undefined
}

/**
 * One turn of the conversation, with `agent` if the turn names one (else the chat's active agent):
 * the answer streamed as it is written, an approval request, or (while the thread waits for a
 * decision) an answer beside it.
 */
export async function converse(ctx: Context, { text, attachments }: SaidMessage, agent?: string, hints?: TurnHints): Promise<void> {
  const { chat, from } = ctx
  if (!chat || !from) return
  const { chats, approvals } = ctx.services
  const place = placeOf(ctx)
  const person = personOf(ctx)
  const stream = new ReplyStream(ctx.api, { ...place, private: chat.type === 'private' }, ctx.log, ctx.update.update_id % 2 ** 31)
  try {
    await whileTyping(ctx, async () => {
      const { threadId, outcome } = await chats.converse({ place, person, updateId: ctx.update.update_id, text, attachments, agent, hints, onText: (soFar, writer) => stream.push(writer, soFar) })
      ctx.log.info({ threadId, agent: outcome.kind === 'approval' ? undefined : outcome.agent, outcome: outcome.kind }, 'turn finished')
      if (outcome.kind === 'answer') return stream.finish(outcome.agent, outcome.text)
      if (outcome.kind === 'aside') {
        for (const part of answerParts(outcome.agent, outcome.text)) await ctx.reply(part, { parse_mode: 'HTML' })
        return
      }
      await stream.discard()
      await approvals.present({ ...place, threadId, requester: person }, outcome)
    })
  } catch (err) {
    await stream.discard()
    // The model gave up after its retries: tell the person and finish the update; retrying the
    // whole update would only repeat the same wait.
    if (!(err instanceof ModelError)) throw err
    ctx.log.error({ err, kind: err.kind, status: err.status }, 'model failed')
    // Providers say why they refuse an image ("No endpoints found that support image input",
    // "image_url is only supported by certain models"); any other refusal keeps its own sentence.
    const image = err.kind === 'rejected' && attachments?.some((a) => a.kind === 'image') && /image/i.test(String((err.cause as Error | undefined)?.message))
    await ctx.reply(image ? MODEL_CANNOT_SEE : describeModelError(err))
  }
}

composer.on('message:text', async (ctx, next) => {
  const text = textForBot(ctx.message, ctx.me)
  if (text === undefined) return next()
  if (!text) return void (await ctx.reply('Yes? Write your question after the mention.'))
  await converse(ctx, { text })
})

export { composer as chatFeature }
