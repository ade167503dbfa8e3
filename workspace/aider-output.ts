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
