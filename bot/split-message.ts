/** Telegram's limit for one message's text. */
export const MESSAGE_LIMIT = 4096

const FENCE = /^```(\S*)\s*$/

/**
 * Splits a reply into messages of at most `limit` characters: at paragraph breaks where it can, else
 * at line breaks, else at spaces, and never inside a surrogate pair. A fenced code block that has to be
 * split is closed at the end of one part and reopened (with its language) at the start of the next, so
 * each part renders on its own.
 */
export function splitMessage(text: string, limit = MESSAGE_LIMIT): string[] {
  const parts: string[] = []
  let rest = text.trim()
  let openFence: string | undefined // the opening line of a code block carried into `rest`
  while (rest.length > 0) {
    const prefix = openFence !== undefined ? `${openFence}\n` : ''
    const budget = limit - prefix.length - 4 // room to close a fence: "\n```"
    if (prefix.length + rest.length <= limit) {
      parts.push(prefix + rest)
      break
    }
    const cut = findCut(rest, budget)
    const head = rest.slice(0, cut).trimEnd()
    rest = rest.slice(cut).trimStart()
    const fenceAtEnd = fenceStateAfter(head, openFence)
    parts.push(prefix + head + (fenceAtEnd !== undefined ? '\n```' : ''))
    openFence = fenceAtEnd
  }
  return parts.filter((p) => p.trim().length > 0)
}

function findCut(text: string, budget: number): number {
  const window = text.slice(0, budget + 1)
  for (const separator of ['\n\n', '\n', ' ']) {
    const at = window.lastIndexOf(separator)
    if (at > budget / 2) return at
  }
  // No good break: cut hard, but not between the two halves of a surrogate pair.
  const code = text.charCodeAt(budget - 1)
  return code >= 0xd800 && code <= 0xdbff ? budget - 1 : budget
}

/** The fence line still open after `chunk`, given the one open before it. */
function fenceStateAfter(chunk: string, open: string | undefined): string | undefined {
  let state = open
  for (const line of chunk.split('\n')) {
    const m = FENCE.exec(line.trim())
    if (m) state = state === undefined ? line.trim() : undefined
  }
  return state
}
