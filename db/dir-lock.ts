import { readFileSync, rmSync, writeFileSync } from 'node:fs'
import { hostname } from 'node:os'

/** Another live process holds the data directory. */
export class DataDirLockedError extends Error {
  override name = 'DataDirLockedError'
  readonly lockPath: string
  readonly holderPid: number
  constructor(lockPath: string, holderPid: number) {
    super(
      `The data directory is in use by another Mechanic process (pid ${holderPid}). ` +
        `Stop it, or set DATA_DIR to another folder. If no such process runs, delete ${lockPath}.`,
    )
    this.lockPath = lockPath
    this.holderPid = holderPid
  }
}

export interface DirLock {
  release(): void
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/**
 * Takes an exclusive lock file for this process. PGlite does not lock its directory itself, and two
 * processes writing one PGlite directory corrupt it. A lock left by a dead process (kill -9) is taken over.
 */
export function acquireDirLock(lockPath: string): DirLock {
  const mine = JSON.stringify({ pid: process.pid, host: hostname(), at: new Date().toISOString() })
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(lockPath, mine, { flag: 'wx' })
      return { release: () => rmSync(lockPath, { force: true }) }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
    }
    const holder = readHolder(lockPath)
    if (holder && holder.host === hostname() && holder.pid !== process.pid && isAlive(holder.pid)) {
      throw new DataDirLockedError(lockPath, holder.pid)
    }
    rmSync(lockPath, { force: true }) // stale: its process is gone
  }
  throw new Error(`Could not take the lock ${lockPath}`)
}

function readHolder(lockPath: string): { pid: number; host: string } | undefined {
  try {
    const parsed = JSON.parse(readFileSync(lockPath, 'utf8')) as { pid?: unknown; host?: unknown }
    return typeof parsed.pid === 'number' && typeof parsed.host === 'string' ? { pid: parsed.pid, host: parsed.host } : undefined
  } catch {
    return undefined
  }
}
