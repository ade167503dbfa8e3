import type { ChatPlace } from '../services/chats.ts'
import type { Person } from '../services/output.ts'
import type { Context } from './context.ts'

/** The person behind an update, as services name them. */
export const personOf = (ctx: Context): Person => ({ id: ctx.from?.id ?? 0, name: ctx.from?.first_name ?? String(ctx.from?.id) })

/** Where a message's conversation lives: its chat, or its forum topic. */
export const placeOf = (ctx: Context): ChatPlace => {
  const msg = ctx.msg
  return { chatId: ctx.chat?.id ?? 0, topicId: msg?.is_topic_message ? msg.message_thread_id : undefined }
}

