import { describe, expect, test } from 'vitest'
import { commandMenus, helpText } from '../../../bot/command-table.ts'
import { COMMANDS } from '../../../bot/commands.ts'

const names = (menu: ReadonlyArray<{ command: string }>) => menu.map((c) => c.command)

describe('the command table', () => {
  test('declares each command once, with a name and a description Telegram accepts', () => {
    expect(new Set(COMMANDS.map((c) => c.name)).size).toBe(COMMANDS.length)
    for (const c of COMMANDS) {
      expect(c.name).toMatch(/^[a-z0-9_]{1,32}$/)
      expect(c.summary.length).toBeGreaterThanOrEqual(3)
      expect(`${c.summary} (admin)`.length).toBeLessThanOrEqual(256)
    }
  })

  test('menus: admin commands only in the admins’ menu, coder commands only with the coder', () => {
    const admins = COMMANDS.filter((c) => c.scope === 'admins').map((c) => c.name)
    const coder = COMMANDS.filter((c) => c.scope === 'coder').map((c) => c.name)
    expect(admins.length).toBeGreaterThan(0)
    expect(coder).toEqual(['code', 'repo', 'tasks'])
    const off = commandMenus(COMMANDS, false)
    const on = commandMenus(COMMANDS, true)
    for (const name of admins) {
      expect(names(off.everyone)).not.toContain(name)
      expect(names(on.everyone)).not.toContain(name)
      expect(names(on.admins)).toContain(name)
    }
    for (const name of coder) {
      expect(names(off.everyone)).not.toContain(name)
      expect(names(off.admins)).not.toContain(name)
      expect(names(on.everyone)).toContain(name)
    }
    // Admin commands of the coder: in the admins' menu only when the coder is set up.
    for (const name of COMMANDS.filter((c) => c.scope === 'coder-admins').map((c) => c.name)) {
      expect(names(on.admins)).toContain(name)
      expect(names(on.everyone)).not.toContain(name)
      expect(names(off.admins)).not.toContain(name)
    }
    expect(names(on.everyone)).not.toContain('start') // hidden
    expect(on.admins.find((c) => c.command === 'status')?.description).toMatch(/\(admin\)$/)
  })

  test('/help lists what the person may run, and nothing else', () => {
    const person = helpText(COMMANDS, { isAdmin: false, coderEnabled: false })
    const admin = helpText(COMMANDS, { isAdmin: true, coderEnabled: true })
    expect(person).toMatch(/^I am Mechanic/)
    for (const c of COMMANDS.filter((c) => !c.hidden)) {
      const line = new RegExp(`^/${c.name}\\b`, 'm')
      expect(admin).toMatch(line)
      if (c.scope === 'everyone') expect(person).toMatch(line)
      else expect(person).not.toMatch(line)
    }
  })
})
