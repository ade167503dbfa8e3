import { spawnSync } from 'node:child_process'
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, test } from 'vitest'
import pkg from '../../package.json' with { type: 'json' }

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const SCRIPT = 'scripts/check-node.cjs'
const LINE = /^Mechanic needs Node\.js >= 22\.18 \(24 LTS recommended\); this is Node\.js \d+\.\d+\.\d+\.$/

/** A Node older than 22 on this machine (the system's, where there is one), to start as a person would. */
function oldNode(): { bin: string; version: string } | undefined {
  for (const bin of ['/usr/bin/node', '/usr/local/bin/node']) {
    if (!existsSync(bin)) continue
    const version = spawnSync(bin, ['-p', 'process.versions.node'], { encoding: 'utf8' }).stdout?.trim()
    if (version && Number(version.split('.')[0]) < 22) return { bin, version }
  }
  return undefined
}
const old = oldNode()
const oldNpm = old && existsSync(join(dirname(old.bin), 'npm')) ? join(dirname(old.bin), 'npm') : undefined
// npm beside this Node (setup-node), else the first on PATH (.ci/run's Node comes without one).
const currentNpm = [dirname(process.execPath), ...(process.env.PATH ?? '').split(':')].map((dir) => join(dir, 'npm')).find((bin) => existsSync(bin))

/** `npm ci --dry-run` on a copy of the manifest, lockfile and .npmrc: the engine check, nothing installed. */
function ciDryRun(npm: string, node: string): { status: number | null; output: string } {
  const dir = mkdtempSync(join(tmpdir(), 'mechanic-ci-'))
  try {
    for (const file of ['package.json', 'package-lock.json', '.npmrc']) copyFileSync(join(ROOT, file), join(dir, file))
    // npm runs on the first `node` on PATH.
    const env = { PATH: `${dirname(node)}:${dirname(npm)}:/usr/bin:/bin`, HOME: dir, npm_config_update_notifier: 'false', npm_config_cache: join(dir, 'cache') }
    const run = spawnSync(npm, ['ci', '--dry-run', '--ignore-scripts', '--no-audit', '--no-fund'], { cwd: dir, encoding: 'utf8', env })
    return { status: run.status, output: `${run.stdout}${run.stderr}` }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

describe('starting on a Node that cannot run the TypeScript', () => {
  test('npm start and npm run migrate check the Node first; npm installs are engine-strict', () => {
    expect(pkg.scripts.prestart).toBe(`node ${SCRIPT}`)
    expect(pkg.scripts.premigrate).toBe(`node ${SCRIPT}`)
    expect(pkg.engines.node).toBe('>=22.18')
    expect(readFileSync(join(ROOT, '.npmrc'), 'utf8')).toMatch(/^engine-strict=true$/m)
  })

  test('the check passes silently on this Node', () => {
    const run = spawnSync(process.execPath, [SCRIPT], { cwd: ROOT, encoding: 'utf8' })
    expect({ status: run.status, stdout: run.stdout, stderr: run.stderr }).toEqual({ status: 0, stdout: '', stderr: '' })
  })

  test.skipIf(!old)(`the check refuses an old Node in one line (${old?.bin ?? 'none found'} ${old?.version ?? ''})`, () => {
    const run = spawnSync(old!.bin, [SCRIPT], { cwd: ROOT, encoding: 'utf8' })
    expect(run.status).toBe(1)
    expect(run.stdout).toBe('')
    expect(run.stderr).toBe(`Mechanic needs Node.js >= 22.18 (24 LTS recommended); this is Node.js ${old!.version}.\n`)
  })

  test.skipIf(!currentNpm)('npm ci accepts this Node and every dependency it installs', () => {
    const run = ciDryRun(currentNpm!, process.execPath)
    expect(run.output).not.toMatch(/EBADENGINE/)
    expect(run.status).toBe(0)
  })

  test.skipIf(!oldNpm)('npm ci with the old Node refuses with EBADENGINE, naming the Node required', () => {
    const run = ciDryRun(oldNpm!, old!.bin)
    expect(run.status).not.toBe(0)
    expect(run.output).toMatch(/npm error code EBADENGINE/)
    expect(run.output).toMatch(/Not compatible with your version of node\/npm: mechanic@/)
    expect(run.output).toContain('Required: {"node":">=22.18"}')
  })

  test.skipIf(!oldNpm)('npm start with the old Node prints that line, not ERR_UNKNOWN_FILE_EXTENSION, and never runs main.ts', () => {
    const home = mkdtempSync(join(tmpdir(), 'mechanic-npm-home-'))
    try {
      const run = spawnSync(oldNpm!, ['start'], { cwd: ROOT, encoding: 'utf8', env: { PATH: `${dirname(old!.bin)}:/usr/bin:/bin`, HOME: home, npm_config_update_notifier: 'false' } })
      const output = `${run.stdout}${run.stderr}`
      expect(run.status).not.toBe(0)
      expect(run.stderr.trim().split('\n')).toEqual([expect.stringMatching(LINE)])
      expect(output).not.toMatch(/ERR_UNKNOWN_FILE_EXTENSION/)
      expect(output).not.toMatch(/> node main\.ts/)
    } finally {
      rmSync(home, { recursive: true, force: true })
    }
  })
})
