import { pino } from 'pino'
import type { DestinationStream, Logger } from 'pino'

export type { Logger }

const REDACTED = '[redacted]'

/** Shapes of secrets we recognise even when nobody told us the value. */
const SECRET_PATTERNS: RegExp[] = [
  /\b\d{5,12}:[A-Za-z0-9_-]{30,}\b/g, // Telegram bot token
  /\bsk-[A-Za-z0-9_-]{16,}\b/g, // OpenAI / OpenRouter style keys
  /(postgres(?:ql)?:\/\/[^:@/\s]+:)[^@\s]+@/g, // password inside a connection string
]

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}

/**
 * Returns a function that replaces every known secret value and (unless `shapes` is false) every
 * secret-shaped string in a text.
 */
export function createScrubber(secrets: readonly string[], { shapes = true }: { shapes?: boolean } = {}): (text: string) => string {
  const known = secrets.filter((s) => s.length >= 6).sort((a, b) => b.length - a.length)
  const knownPattern = known.length ? new RegExp(known.map(escapeRegExp).join('|'), 'g') : undefined
  return (text) => {
    let out = knownPattern ? text.replace(knownPattern, REDACTED) : text
    for (const pattern of shapes ? SECRET_PATTERNS : []) {
      out = out.replace(pattern, (match, prefix?: string) =>
        typeof prefix === 'string' && match.startsWith(prefix) ? `${prefix}${REDACTED}@` : REDACTED,
      )
    }
    return out
  }
}

/** Returns a function that says whether a text holds one of `secrets` (their exact values, not shapes). */
export function createSecretCheck(secrets: readonly string[]): (text: string) => boolean {
  const scrub = createScrubber(secrets, { shapes: false })
  return (text) => scrub(text) !== text
}

export interface LoggerOptions {
  level: string
  secrets: readonly string[]
  destination?: DestinationStream
}

/**
 * The service's root logger: JSON lines, secrets redacted by path (well-known fields)
 * and by pattern (every line is scrubbed just before it is written).
 */
export function createLogger({ level, secrets, destination }: LoggerOptions): Logger {
  const scrub = createScrubber(secrets)
  return pino(
    {
      level,
      base: { service: 'mechanic' },
      redact: {
        paths: ['token', '*.token', 'apiKey', '*.apiKey', 'password', '*.password', 'headers.authorization', '*.headers.authorization', 'headers["x-telegram-bot-api-secret-token"]'],
        censor: REDACTED,
      },
      hooks: { streamWrite: scrub },
      serializers: { err: pino.stdSerializers.err },
    },
    destination ?? pino.destination({ dest: 1, sync: false }),
  )
}
