import type { Transformer } from 'grammy'
import type { Logger } from '../../logger.ts'
import { htmlToPlain } from '../format/html.ts'

/** The calls that carry formatted text. */
const TEXT_METHODS = new Set(['sendMessage', 'editMessageText', 'sendMessageDraft'])

/** Telegram's answer when it cannot parse a text's formatting. */
export const isParseError = (description: string | undefined): boolean => /can't parse entities/i.test(description ?? '')

/**
 * The person always gets the answer: when Telegram refuses a text's HTML formatting ("can't parse
 * entities"), the same text is sent again at once as plain text (tags taken out, entities decoded),
 * and the log says why. One API transformer, so every message, edit and draft is covered, whoever
 * sends it.
 */
export function plainTextFallback(log: Logger): Transformer {
  return async (prev, method, payload, signal) => {
    const first = await prev(method, payload, signal)
    const p = payload as { parse_mode?: string; text?: unknown; chat_id?: unknown }
    if (first.ok || !TEXT_METHODS.has(method) || p.parse_mode !== 'HTML' || typeof p.text !== 'string' || !isParseError(first.description)) return first
    log.warn({ method, chatId: p.chat_id, description: first.description }, 'Telegram refused the formatting; sending the text plain')
    const plain: Record<string, unknown> = { ...p, text: htmlToPlain(p.text) }
    delete plain.parse_mode
    return prev(method, plain as typeof payload, signal)
  }
}
