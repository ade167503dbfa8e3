// npm run bench (sandbox): what the bubblewrap sandbox costs. A bare launch (`/bin/true` through the
// launcher, inside bwrap and without it, alternating), and a whole aider run with the real aider
// against the OpenAI emulator (a worktree-like repository, one whole-file edit), inside and without
// the sandbox, alternating, in the same run. Needs AIDER_BIN for the aider part (.ci/run installs
// aider-chat). Prints tables and writes bench/results/sandbox-*.json.
import { execFile } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { Sandbox } from '../sandbox/sandbox.ts'
import type { SandboxPolicy } from '../sandbox/sandbox.ts'
import { runAider } from '../workspace/aider.ts'
import { AIDER_BIN, git } from '../test/support/git.ts'
import { OpenAIEmulator } from '../test/support/openai-emulator.ts'
import { figures, overhead, printTable, writeResult } from './report.ts'

const LAUNCHES = 60
const AIDER_RUNS = 8
const run = promisify(execFile)

const inside = new Sandbox({ mode: 'on', protect: [], path: process.env.PATH })
const outside = new Sandbox({ mode: 'off', protect: [], path: process.env.PATH })
if ((await inside.probe()).state !== 'on') throw new Error('bubblewrap does not work here: the sandbox cannot be measured')
await outside.probe()

async function timedLaunch(sandbox: Sandbox, policy: SandboxPolicy): Promise<number> {
  const launch = sandbox.launch(policy)
  const t0 = performance.now()
  await run(launch.file, launch.args, { env: launch.env, cwd: launch.cwd })
  return performance.now() - t0
}

async function launches() {
  const policy: SandboxPolicy = { command: '/bin/true', args: [], cwd: '/', env: { PATH: process.env.PATH ?? '/usr/bin:/bin' } }
  const a: number[] = []
  const b: number[] = []
  for (let i = 0; i < LAUNCHES; i++) {
    a.push(await timedLaunch(inside, policy))
    b.push(await timedLaunch(outside, policy))
  }
  const s = figures(a.slice(5), 2)
  const o = figures(b.slice(5), 2)
  return { sandboxedMs: s, bareMs: o, costMs: overhead(s, o) }
}

async function aiderRuns() {
  if (!AIDER_BIN) return undefined
  const openai = await new OpenAIEmulator().start()
  openai.respondWith(() => ({ content: 'Creating the notes file.\n\nNOTES.md\n```\nhello\n```\n' }))
  const once = async (sandbox: Sandbox) => {
    const dir = mkdtempSync(join(tmpdir(), 'mechanic-bench-aider-'))
    git(dir, 'init', '-q', '-b', 'main')
    git(dir, 'commit', '-q', '--allow-empty', '-m', 'init')
    const settings = { bin: AIDER_BIN!, model: 'bench-model', apiBase: openai.baseUrl, apiKey: 'sk-bench', timeoutMs: 120_000, author: { name: 'Bench', email: 'bench@example.test' } }
    const t0 = performance.now()
    await runAider(settings, { cwd: dir, git: { gitDir: join(dir, '.git'), commonDir: join(dir, '.git') }, instructions: 'add a NOTES.md saying hello', files: ['NOTES.md'] }, process.env.PATH, sandbox)
    const ms = performance.now() - t0
    rmSync(dir, { recursive: true, force: true })
    return ms
  }
  const a: number[] = []
  const b: number[] = []
  for (let i = 0; i < AIDER_RUNS; i++) {
    a.push(await once(inside))
    b.push(await once(outside))
  }
  await openai.close()
  const s = figures(a, 0)
  const o = figures(b, 0)
  return { sandboxedMs: s, bareMs: o, costMs: overhead(s, o), ratio: Math.round((s.p50 / o.p50) * 1000) / 1000 }
}

const launch = await launches()
const aider = await aiderRuns()
printTable([
  ['what', 'sandboxed p50 ms', 'p99 ms', 'bare p50 ms', 'p99 ms', 'cost p50 ms', 'cost p99 ms'],
  ['launch /bin/true', launch.sandboxedMs.p50, launch.sandboxedMs.p99, launch.bareMs.p50, launch.bareMs.p99, launch.costMs.p50, launch.costMs.p99],
  ...(aider ? [['aider run (one edit)', aider.sandboxedMs.p50, aider.sandboxedMs.p99, aider.bareMs.p50, aider.bareMs.p99, aider.costMs.p50, aider.costMs.p99]] : []),
])
if (!aider) console.log('AIDER_BIN is not set: the aider part was skipped.')
writeResult('sandbox', { settings: { launches: LAUNCHES, aiderRuns: AIDER_RUNS }, launch, aider })
process.exit(0)
