import { readFileSync, readdirSync } from 'node:fs'
import { dirname, join, normalize, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, test } from 'vitest'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))

/** The rooms from the bottom up: a file may import from its own room or from a lower one, never a higher one. */
const LAYERS: ReadonlyArray<readonly string[]> = [
  ['domain', 'package.json'],
  ['cached.ts', 'logger.ts', 'wakeup.ts', 'config.ts'],
  ['db'],
  ['worker', 'sandbox'],
  ['workspace'],
  ['agents'],
  ['graph'],
  ['metrics.ts'],
  ['services'],
  ['bot'],
  ['app.ts'],
  ['cli.ts'],
  ['main.ts'],
]
const rankOf = (room: string) => LAYERS.findIndex((rooms) => rooms.includes(room))
const roomOf = (path: string) => path.split('/')[0]!

function productFiles(dir = ''): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((e) => {
    const path = dir ? `${dir}/${e.name}` : e.name
    if (e.isDirectory()) return ['node_modules', 'test', 'bench', 'dist', 'scripts', 'data'].includes(e.name) || e.name.startsWith('.') ? [] : productFiles(path)
    return path.endsWith('.ts') && !path.endsWith('.config.ts') ? [path] : []
  })
}

/** Every import of our own code: [importing file, imported file], both relative to the root. */
function imports(): Array<[string, string]> {
  return productFiles().flatMap((file) =>
    [...readFileSync(join(ROOT, file), 'utf8').matchAll(/^(?:import|export)\b[^'"]*?from '(\.{1,2}\/[^']+)'/gm)].map(
      (m): [string, string] => [file, relative(ROOT, normalize(join(ROOT, dirname(file), m[1]!)))],
    ),
  )
}

describe('the house', () => {
  test('every room is placed, and no import points up', () => {
    const all = imports()
    expect(all.length).toBeGreaterThan(100)
    const rooms = new Set(all.flatMap(([from, to]) => [roomOf(from), roomOf(to)]))
    for (const room of rooms) expect(rankOf(room), `${room} has no layer`).toBeGreaterThanOrEqual(0)
    const upward = all.filter(([from, to]) => roomOf(from) !== roomOf(to) && rankOf(roomOf(to)) > rankOf(roomOf(from)))
    expect(upward.map(([from, to]) => `${from} → ${to}`)).toEqual([])
  })

  test('features talk to services, never to tables', () => {
    const toTables = imports().filter(([from, to]) => from.startsWith('bot/features/') && roomOf(to) === 'db')
    expect(toTables.map(([from, to]) => `${from} → ${to}`)).toEqual([])
  })
})
