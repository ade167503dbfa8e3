/** Lines aider prints about itself rather than about the change. */
const NOISE = [
  /^Aider v/,
  /^Analytics have been/,
  /^Update git (name|email) with/,
  /^Model: /,
  /^Git repo: /,
  /^Repo-map: /,
  /^(Added|Creating empty file|Applied edit to|Did not apply edit|Commit|Warning|Tokens:|Cost:|Main model|Weak model|Editor model|Use \/help|Dropping|Only \d+ reflections)/,
  /^https?:\/\//,
  /^>/,
  /^─+$/,
  /^litellm\./i,
]

const MAX_EXPLANATION = 600

/**
 * aider's own short account of what it did: the prose of the model's reply, without its banner,
 * the file listings of the edit (between ``` fences) and its bookkeeping lines. Pure, for tests.
 */
export function explainAiderOutput(output: string): string {
  const prose: string[] = []
  let inFence = false
  let lastLine = ''
  for (const raw of output.split('\n')) {
    const line = raw.trimEnd()
    if (/^\s*```/.test(line)) {
      inFence = !inFence
      // The last line before a fence in an edit is the file's name, not prose.
      if (inFence && /^\S+$/.test(lastLine) && prose.at(-1) === lastLine) prose.pop()
      continue
    }
    if (line.trim()) lastLine = line.trim()
    if (inFence || !line.trim() || NOISE.some((re) => re.test(line.trim()))) continue
    prose.push(line.trim())
  }
  const text = prose.join(' ').replace(/\s+/g, ' ').trim()
  return text.length > MAX_EXPLANATION ? `${text.slice(0, MAX_EXPLANATION - 1)}…` : text
}

/** The commit message of a task's change: its instructions' first line, and the task id as a trailer. */
export function commitMessage(taskId: string, instructions: string): string {
  const first = instructions.split('\n')[0]!.trim()
  const subject = first.length > 68 ? `${first.slice(0, 67)}…` : first
  return `${subject || 'Change requested through Mechanic'}\n\n${instructions.trim()}\n\nMechanic-Task: ${taskId}\n`
}

/**
 * Checks the files an agent names for aider: relative paths inside the repository, no `..`, no
 * option-like names, at most 20. Returns an error sentence, or undefined when they are fine.
 */
export function invalidFiles(files: readonly string[]): string | undefined {
  if (files.length > 20) return 'name at most 20 files'
  for (const f of files) {
    if (!f || f.length > 300) return 'a file name is empty or too long'
    if (f.startsWith('/') || f.startsWith('-') || f.includes('\\') || f.includes('\0')) return `"${f}" must be a path relative to the repository root`
    if (f.split('/').some((part) => part === '..' || part === '.git')) return `"${f}" points outside the repository`
  }
  return undefined
}

/** What aider's bookkeeping says of its model calls: tokens per message, and the session's running cost. */
export interface AiderUsage {
  inputTokens: number
  outputTokens: number
  /** US dollars so far, by the price in its model metadata; undefined when it printed none. */
  sessionCost: number | undefined
}

/** aider's token counts: 770, 1.2k, 12k, 1.5M. */
const tokenCount = (text: string) => {
  const m = /^([\d.]+)([kM]?)$/.exec(text)
  return m ? Math.round(Number(m[1]) * (m[2] === 'k' ? 1e3 : m[2] === 'M' ? 1e6 : 1)) : 0
}

/**
 * One of aider's "Tokens: 770 sent, 13 received. Cost: $0.0025 message, $0.0025 session." lines (the
 * cost part only when the model has a price), or undefined for any other line. Pure, for tests.
 */
export function parseAiderUsageLine(line: string): AiderUsage | undefined {
  const m = /^Tokens: ([\d.]+[kM]?) sent(?:, ([\d.]+[kM]?) cache write)?(?:, ([\d.]+[kM]?) cache hit)?, ([\d.]+[kM]?) received\.(?: Cost: \$([\d.]+) message, \$([\d.]+) session\.)?/.exec(line.trim())
  if (!m) return undefined
  return { inputTokens: tokenCount(m[1]!), outputTokens: tokenCount(m[4]!), sessionCost: m[6] === undefined ? undefined : Number(m[6]) }
}

/** A whole run's usage: tokens added up over its messages, the session's last cost. Pure, for tests. */
export function aiderUsage(output: string): AiderUsage {
  const lines = output.split('\n').map(parseAiderUsageLine).filter((u): u is AiderUsage => u !== undefined)
  return {
    inputTokens: lines.reduce((s, u) => s + u.inputTokens, 0),
    outputTokens: lines.reduce((s, u) => s + u.outputTokens, 0),
    sessionCost: lines.findLast((u) => u.sessionCost !== undefined)?.sessionCost,
  }
}
