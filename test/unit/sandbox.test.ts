import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, test } from 'vitest'
import { bwrapArgs, hostView, programPaths } from '../../sandbox/policy.ts'

/** The [flag, ...values] groups of an argument list, for order checks. */
const mounts = (args: string[]) => {
  const out: string[] = []
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!
    if (a === '--bind' || a === '--ro-bind' || a === '--ro-bind-try' || a === '--symlink') out.push(`${a} ${args[++i]} ${args[++i]}`)
    else if (a === '--tmpfs') out.push(`${a} ${args[++i]}`)
  }
  return out
}

describe('the sandbox policy as bwrap arguments', () => {
  const root = mkdtempSync(join(tmpdir(), 'mechanic-policy-'))
  const prefix = join(root, 'venv')
  mkdirSync(join(prefix, 'bin'), { recursive: true })
  mkdirSync(join(prefix, 'lib'))
  writeFileSync(join(prefix, 'bin', 'tool'), '#!/bin/sh\n', { mode: 0o755 })
  const data = join(prefix, 'data') // a protected path the implicit bind of the prefix would show
  mkdirSync(data)
  const tree = join(root, 'tree')
  mkdirSync(tree)

  test('namespaces, no capabilities, no nested user namespaces, its own /proc, /dev and /tmp', () => {
    const args = bwrapArgs({ command: 'tool', args: [], cwd: tree, env: { PATH: join(prefix, 'bin') } }, hostView([]))
    for (const flag of ['--unshare-all', '--unshare-user', '--share-net', '--disable-userns', '--die-with-parent', '--new-session']) expect(args).toContain(flag)
    expect(args.join(' ')).toContain('--cap-drop ALL')
    expect(args.join(' ')).toContain('--proc /proc --dev /dev --tmpfs /tmp')
    expect(args.slice(-2)).toEqual(['--chdir', tree])
    expect(mounts(args)).not.toContain('--ro-bind /etc /etc')
    expect(mounts(args)).toContain('--ro-bind-try /etc/resolv.conf /etc/resolv.conf')
  })

  test("a PATH directory brings its prefix when the prefix has a lib; a protected path inside it is covered; the policy's binds come after", () => {
    const args = mounts(bwrapArgs({ command: 'tool', args: [], cwd: tree, env: { PATH: join(prefix, 'bin') }, writable: [tree] }, hostView([data])))
    const at = (m: string) => args.indexOf(m)
    expect(at(`--ro-bind ${prefix} ${prefix}`)).toBeGreaterThan(-1)
    expect(at(`--tmpfs ${data}`)).toBeGreaterThan(at(`--ro-bind ${prefix} ${prefix}`))
    expect(at(`--bind ${tree} ${tree}`)).toBeGreaterThan(at(`--tmpfs ${data}`))
  })

  test("a protected path inside a policy's bind is covered where it shows, also when the bind is a symlink to its parent", () => {
    const link = join(root, 'link-to-venv')
    symlinkSync(prefix, link)
    const args = mounts(bwrapArgs({ command: '/bin/true', args: [], cwd: '/', env: { PATH: '/usr/bin' }, readOnly: [link] }, hostView([data])))
    expect(args.slice(-2)).toEqual([`--ro-bind ${link} ${link}`, `--tmpfs ${join(link, 'data')}`])
  })

  test('a protected path no bind shows is not mentioned', () => {
    const args = mounts(bwrapArgs({ command: '/bin/true', args: [], cwd: tree, env: { PATH: '/usr/bin' }, writable: [tree] }, hostView([data])))
    expect(args.some((m) => m.includes(data))).toBe(false)
    expect(args.at(-1)).toBe(`--bind ${tree} ${tree}`)
  })

  test("a script's interpreter and the node_modules above a named file are readable", () => {
    const pkg = join(root, 'app')
    mkdirSync(join(pkg, 'node_modules'), { recursive: true })
    mkdirSync(join(pkg, 'server'))
    writeFileSync(join(pkg, 'server', 'index.js'), '')
    mkdirSync(join(root, 'scripts'))
    writeFileSync(join(root, 'scripts', 'run'), `#!${join(prefix, 'bin', 'tool')}\n`, { mode: 0o755 })
    const paths = programPaths(join(root, 'scripts', 'run'), [join(pkg, 'server', 'index.js')], '/usr/bin')
    expect(paths.sort()).toEqual([prefix, join(pkg, 'node_modules'), join(pkg, 'server'), join(root, 'scripts')].sort())
  })
})
