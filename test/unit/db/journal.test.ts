import { appendFileSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, test } from 'vitest'
import { JournalWriter, readJournal, removeJournalFiles } from '../../../db/journal.ts'

const update = (updateId: number) => ({ updateId, lane: 7, kind: 'message', payload: { update_id: updateId, message: { text: `m${updateId}` } } })
const dirs: string[] = []
const tempDir = () => {
  const dir = mkdtempSync(join(tmpdir(), 'journal-'))
  dirs.push(dir)
  return dir
}
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true })
})

describe('the ingest journal', () => {
  test('what was appended and not moved is read back in order after a crash; a torn last line is skipped', async () => {
    const dir = tempDir()
    const writer = JournalWriter.open(dir)
    await writer.append([update(1), update(2)])
    await writer.append([update(3)])
    // A crash in the middle of a write: the line never got its newline, and was never acknowledged.
    const [file] = readdirSync(dir)
    appendFileSync(join(dir, file!), '{"updateId":4,"lane":7,"ki')
    const left = readJournal(dir)
    expect(left.updates.map((u) => u.updateId)).toEqual([1, 2, 3])
    expect(left.updates[0]).toEqual(update(1))
    expect(left.unreadable).toBe(1)
    removeJournalFiles(left.files)
    expect(readdirSync(dir)).toEqual([])
  })

  test('a segment moved to its end is deleted, and the next batch starts a new one', async () => {
    const dir = tempDir()
    const writer = JournalWriter.open(dir)
    const mark = await writer.append([update(1)])
    writer.moved({ segment: mark.segment, end: mark.end - 1 }) // not all of it: stays
    expect(readdirSync(dir)).toHaveLength(1)
    writer.moved(mark)
    await new Promise((r) => setTimeout(r, 50)) // the file closes, then goes
    expect(readdirSync(dir)).toEqual([])
    const next = await writer.append([update(2)])
    expect(next.segment).toBe(mark.segment + 1)
    expect(readJournal(dir).updates.map((u) => u.updateId)).toEqual([2])
    await writer.close()
  })

  test('a writer opened beside a journal left by a crash never writes into those files', async () => {
    const dir = tempDir()
    const first = JournalWriter.open(dir)
    const old = await first.append([update(1)])
    await first.close()
    const second = JournalWriter.open(dir)
    const mark = await second.append([update(2)])
    expect(mark.segment).toBeGreaterThan(old.segment)
    expect(existsSync(dir)).toBe(true)
    expect(readJournal(dir).updates.map((u) => u.updateId)).toEqual([1, 2])
    await second.close()
  })
})
