import type { Transformer } from 'grammy'
import { createScrubber } from '../../logger.ts'

/**
 * The last guard before Telegram: the service's own secrets (the bot token, the model key, the
 * webhook secret, git tokens, the database URL) are taken out of every text and caption the bot
 * sends or edits, whoever built it: a tool's output, a test's last lines, a model's reply, a diff.
 * Only the exact values are replaced, so a person's message about some other key is left as it is.
 */
export function noSecrets(secrets: readonly string[]): Transformer {
  const scrub = createScrubber(secrets, { shapes: false })
  return (prev, method, payload, signal) => {
    const p = payload as Record<string, unknown>
    let clean: Record<string, unknown> | undefined
    for (const field of ['text', 'caption'] as const) {
      const value = p[field]
      if (typeof value !== 'string') continue
      const scrubbed = scrub(value)
      if (scrubbed !== value) (clean ??= { ...p })[field] = scrubbed
    }
    return prev(method, (clean ?? payload) as typeof payload, signal)
  }
}
