import type { Message } from 'grammy/types'
import type { Context } from './context.ts'

interface Me {
  id: number
  username: string
}

type Addressable = Pick<Message, 'text' | 'caption' | 'entities' | 'caption_entities' | 'reply_to_message' | 'chat'>

/**
 * In a group the bot speaks only when spoken to: a message (or a photo's, voice note's or file's
 * caption) that mentions it, or a reply to one of its messages. Returns the text (or caption) without
 * the mention, or undefined when the message is not for the bot. In a private chat every message is.
 */
export function textForBot(message: Addressable, me: Me): string | undefined {
  const text = message.text ?? message.caption ?? ''
  if (message.chat.type === 'private') return text
  const handle = `@${me.username}`.toLowerCase()
  const mention = (message.entities ?? message.caption_entities ?? []).find(
    (e) => (e.type === 'mention' && text.slice(e.offset, e.offset + e.length).toLowerCase() === handle) || (e.type === 'text_mention' && e.user.id === me.id),
  )
  if (mention) return `${text.slice(0, mention.offset)}${text.slice(mention.offset + mention.length)}`.replace(/\s+/g, ' ').trim()
  return message.reply_to_message?.from?.id === me.id ? text : undefined
}

/** The command a message starts with, without the slash or a bot's name: "/agent@bot x" is agent. */
export const commandName = (text: string) => /^\/([^@\s]*)/.exec(text)?.[1] ?? ''

/** A command meant for this bot: `/cmd`, or `/cmd@thisbot` (never `/cmd@otherbot`). */
export function isCommandForBot(message: Addressable, me: Me): boolean {
  const text = message.text ?? ''
  const first = message.entities?.[0]
  if (first?.type !== 'bot_command' || first.offset !== 0) return false
  const at = text.slice(0, first.length).split('@')[1]
  return at === undefined || at.toLowerCase() === me.username.toLowerCase()
}

/** Whether an update is for the bot: always in private chats and for buttons; in groups only when addressed. */
export function addressesBot(ctx: Context): boolean {
  const message = ctx.message
  if (!message || message.chat.type === 'private') return true
  return isCommandForBot(message, ctx.me) || textForBot(message, ctx.me) !== undefined
}
