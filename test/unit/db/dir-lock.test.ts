import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { hostname, tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, test } from 'vitest'
import { DataDirLockedError, acquireDirLock } from '../../../db/dir-lock.ts'

const lockPath = () => join(mkdtempSync(join(tmpdir(), 'lock-')), 'mechanic.lock')

describe('acquireDirLock', () => {
  test('takes a free lock and frees it on release', () => {
    const path = lockPath()
    const lock = acquireDirLock(path)
    expect(JSON.parse(readFileSync(path, 'utf8'))).toMatchObject({ pid: process.pid })
    lock.release()
    acquireDirLock(path).release()
  })

  test('refuses a lock held by a live process on this host', () => {
    const path = lockPath()
    writeFileSync(path, JSON.stringify({ pid: process.ppid, host: hostname() }))
    expect(() => acquireDirLock(path)).toThrow(DataDirLockedError)
  })

  test('takes over a lock whose process is gone', () => {
    const path = lockPath()
    writeFileSync(path, JSON.stringify({ pid: 2 ** 22 + 12345, host: hostname() }))
    acquireDirLock(path).release()
  })
})
