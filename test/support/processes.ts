import { readdirSync, readFileSync } from 'node:fs'

/**
 * The living processes below `root` (children, grandchildren, …) whose command line (`argv`, split at
 * NUL) passes `matches`, read from /proc; zombies are left out (they hold no memory and run nothing).
 */
export function processesBelow(root: number, matches: (argv: string[]) => boolean): number[] {
  const parents = new Map<number, number>()
  const found: number[] = []
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry)
    if (!Number.isInteger(pid)) continue
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
      const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      if (state === 'Z') continue
      parents.set(pid, Number(ppid))
      if (matches(readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0'))) found.push(pid)
    } catch {
      // gone meanwhile
    }
  }
  return found.filter((pid) => {
    for (let p = parents.get(pid); p !== undefined && p > 1; p = parents.get(p)) if (p === root) return true
    return false
  })
}
