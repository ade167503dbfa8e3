import type { BaseMessage } from '@langchain/core/messages'

/**
 * Which messages to drop so that at most `max` remain. The kept history always starts at a person's
 * message, so an AI tool call is never separated from its tool results (endpoints reject that).
 */
export function messagesToDrop(messages: readonly BaseMessage[], max: number): BaseMessage[] {
  if (messages.length <= max) return []
  let cut = messages.length - max
  while (cut < messages.length && messages[cut]?.getType() !== 'human') cut++
  // No person's message in the window: keep the newest one we have rather than send nothing.
  if (cut === messages.length) {
    const lastHuman = messages.findLastIndex((m) => m.getType() === 'human')
    cut = Math.max(lastHuman, 0)
  }
  return messages.slice(0, cut)
}

/** The text of a message, whether its content is a string or a list of parts. */
export function textOf(message: BaseMessage | undefined): string {
  if (!message) return ''
  const { content } = message
  if (typeof content === 'string') return content
  return content
    .map((part) => (typeof part === 'string' ? part : part.type === 'text' && typeof part.text === 'string' ? part.text : ''))
    .join('')
}
