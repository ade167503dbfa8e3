import { describe, expect, test } from 'vitest'
import { GroupCommit } from '../../../bot/ingest/group-commit.ts'

describe('group commit', () => {
  test('items added while a write runs go together in the next one, each with its own result', async () => {
    const batches: number[][] = []
    let release: () => void = () => undefined
    const commits = new GroupCommit<number, number>(
      async (items) => {
        batches.push(items)
        if (batches.length === 1) await new Promise<void>((r) => (release = r))
        return items.map((i) => i * 10)
      },
      { maxBatch: 3, parallel: 1 },
    )
    const results = [1, 2, 3, 4, 5, 6].map((i) => commits.add(i))
    expect(commits.waiting).toBe(5)
    release()
    expect(await Promise.all(results)).toEqual([10, 20, 30, 40, 50, 60])
    expect(batches).toEqual([[1], [2, 3, 4], [5, 6]])
    await commits.settled()
  })

  test('a failed write fails exactly its own items; later ones still go', async () => {
    const batches: string[][] = []
    const commits = new GroupCommit<string, string>(
      async (items) => {
        batches.push(items)
        if (items.includes('bad')) throw new Error('disk full')
        return items
      },
      { maxBatch: 10, parallel: 2 },
    )
    const outcomes = await Promise.allSettled([commits.add('bad'), commits.add('a'), commits.add('b')])
    expect(outcomes[0]).toMatchObject({ status: 'rejected', reason: new Error('disk full') })
    expect(outcomes.slice(1)).toEqual([{ status: 'fulfilled', value: 'a' }, { status: 'fulfilled', value: 'b' }])
    expect(batches).toEqual([['bad'], ['a'], ['b']]) // two writes at once, then the one that waited
  })
})
