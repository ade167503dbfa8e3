// npm run bench (tasks part): two coding tasks on one repository with the real aider, run side by
// side (TASK_CONCURRENCY=2, each in its own worktree) against one after the other (TASK_CONCURRENCY=1)
// in the same run; the time to add a worktree; and the disk a running task's worktree takes, on a
// repository of a few hundred files. The model answers aider after MODEL_MS (a model's latency).
// Needs AIDER_BIN (.ci/run installs aider-chat). Prints a table and writes bench/results/tasks-*.json.
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { bytesUnder } from '../workspace/disk.ts'
import { AIDER_BIN, createRemote, pushFromElsewhere } from '../test/support/git.ts'
import { Harness, WEBHOOK_SECRET } from '../test/support/harness.ts'
import { sleep, waitUntil } from '../test/support/http.ts'
import { lastUserText } from '../test/support/openai-emulator.ts'
import type { ChatRequest, ModelTurn } from '../test/support/openai-emulator.ts'
import { figures, printTable, writeResult } from './report.ts'

const MODEL_MS = 2000
const ROUNDS = 2
const FILES = 300
const CHATS = [2001, 2002]

if (!AIDER_BIN) {
  console.log('AIDER_BIN is not set: the tasks bench needs the real aider (.ci/run installs it).')
  process.exit(0)
}

/** aider gets a whole-file edit after MODEL_MS; the coder asks for the change; anything else is echoed. */
async function model(req: ChatRequest): Promise<ModelTurn> {
  const first = req.messages[0]?.content
  const system = typeof first === 'string' ? first : JSON.stringify(first ?? '')
  const text = lastUserText(req)
  if (/expert software developer/i.test(system)) {
    const want = [...req.messages.map((m) => (typeof m.content === 'string' ? m.content : '')).join('\n').matchAll(/add a (\S+) saying ([^\n"]+)/g)].at(-1)
    await sleep(MODEL_MS)
    return { content: want ? `Creating ${want[1]}.\n\n${want[1]}\n\`\`\`\n${want[2]!.trim()}\n\`\`\`\n` : 'Nothing to do.' }
  }
  const last = req.messages.at(-1)
  if (last?.role === 'tool') return { content: `coder: ${String(last.content)}` }
  if (system.includes('coder of Mechanic')) return { toolCalls: [{ name: 'request_code_change', args: { instructions: text, files: [/add a (\S+)/.exec(text)?.[1] ?? 'X.md'] } }] }
  return { content: `echo: ${text}` }
}

async function run(concurrency: number, round: number) {
  const h = await Harness.create()
  try {
    const remote = createRemote()
    pushFromElsewhere(remote.bare, Object.fromEntries(Array.from({ length: FILES }, (_, i) => [`file-${i}.ts`, `export const value${i} = ${'x'.repeat(2000)}\n`])), 'a few hundred files')
    const workspace = mkdtempSync(join(tmpdir(), 'mechanic-bench-ws-'))
    h.openai.respondWith(model)
    const service = await h.startService({ GIT_REMOTE_URL: remote.url, WORKSPACE_DIR: workspace, AIDER_BIN: AIDER_BIN!, AIDER_TIMEOUT_SECONDS: '120', TASK_CONCURRENCY: String(concurrency), LOG_LEVEL: 'info' })
    for (const chat of CHATS) {
      await service.deliver(h.text(`/code add a R${round}C${chat}.md saying hello`, { userId: chat }), WEBHOOK_SECRET)
      await h.telegram.waitForButtons(chat, 1, 60_000)
    }
    let peakWorktreeBytes = 0
    const sampling = setInterval(() => void bytesUnder(join(workspace, 'worktrees')).then((b) => (peakWorktreeBytes = Math.max(peakWorktreeBytes, b))), 200)
    const t0 = Date.now()
    for (const chat of CHATS) {
      const plan = await h.telegram.waitForButtons(chat, 1)
      await service.deliver(h.press(plan.messageId, plan.buttons.Approve!, { chatId: chat, userId: chat }), WEBHOOK_SECRET)
    }
    for (const chat of CHATS) await waitUntil(() => h.telegram.sentTexts(chat).find((t) => /is ready for review/.test(t)), `chat ${chat}'s change`, 120_000)
    const wallMs = Date.now() - t0
    clearInterval(sampling)
    const worktreeMs = service.output.flatMap((l) => (l.includes('"worktree added"') ? [Number((JSON.parse(l) as { ms: number }).ms)] : []))
    return { concurrency, wallMs, worktreeMs, peakWorktreeBytes, cloneBytes: await bytesUnder(join(workspace, 'repo')) }
  } finally {
    await h.close()
  }
}

const results: Array<Awaited<ReturnType<typeof run>>> = []
for (let round = 0; round < ROUNDS; round++) for (const concurrency of [2, 1]) results.push(await run(concurrency, round))
const of = (c: number) => results.filter((r) => r.concurrency === c)
const wall = (c: number) => figures(of(c).map((r) => r.wallMs), 0)
const side = wall(2)
const sequential = wall(1)
printTable([
  ['two tasks, approve to both ready', 'p50 ms', 'runs'],
  ['one after the other (TASK_CONCURRENCY=1)', sequential.p50, sequential.n],
  ['side by side (TASK_CONCURRENCY=2)', side.p50, side.n],
  ['side by side / one after the other', (side.p50 / sequential.p50).toFixed(2), '-'],
])
const worktree = figures(results.flatMap((r) => r.worktreeMs), 0)
const peak = Math.max(...of(2).map((r) => r.peakWorktreeBytes))
console.log(`\nworktree add: p50 ${worktree.p50} ms, p99 ${worktree.p99} ms (n=${worktree.n}); clone ${(results[0]!.cloneBytes / 1e6).toFixed(1)} MB; two worktrees at once took at most ${(peak / 1e6).toFixed(1)} MB (${(peak / 2e6).toFixed(1)} MB a task)`)
writeResult('tasks', { modelMs: MODEL_MS, files: FILES, rounds: ROUNDS, results, sideBySide: side, oneAfterTheOther: sequential, worktreeAddMs: worktree, peakWorktreeBytes: peak })
