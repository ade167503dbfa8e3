// npm run bench (MCP): what an MCP tool call costs beyond the server's own time, and what each server
// costs to start. The call: our agent tool (argument validation against the JSON Schema, the call,
// output rendering and capping, the call record) against a bare SDK client calling the same tool
// on a second connection to the same kind of server, alternating, in the same run. Start-up: spawn
// (or connect), initialize, list tools, for each server of the integration tests, inside the
// bubblewrap sandbox and without it (SANDBOX=off), alternating. Writes bench/results/mcp-*.json.
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js'
import { McpCatalog } from '../agents/mcp/catalog.ts'
import { parseMcpConfig } from '../agents/mcp/config.ts'
import { McpServers } from '../agents/mcp/servers.ts'
import { createLogger } from '../logger.ts'
import { Sandbox } from '../sandbox/sandbox.ts'
import { figures, overhead, printTable, printVersus, writeResult } from './report.ts'

const ROOT = fileURLToPath(new URL('../', import.meta.url))
const bin = (name: string) => join(ROOT, 'node_modules/.bin', name)
const CALLS = 500
const WARMUP = 50
const STARTS = 5
const log = createLogger({ level: 'silent', secrets: [] })
const baseEnv = { PATH: process.env.PATH }
const sandboxed = new Sandbox({ mode: 'on', protect: [], path: process.env.PATH })
const bare = new Sandbox({ mode: 'off', protect: [], path: process.env.PATH })
if ((await sandboxed.probe()).state !== 'on') throw new Error('bubblewrap does not work here: the sandbox cannot be measured')
await bare.probe()
const context = { threadId: 'bench', chatId: 1, userId: 1, agent: 'assistant', toolCallId: 'b' }

const SERVERS: Record<string, unknown> = {
  everything: { command: bin('mcp-server-everything'), args: ['stdio'] },
  filesystem: { command: bin('mcp-server-filesystem'), args: [ROOT] },
  memory: { command: bin('mcp-server-memory'), args: [], env: { MEMORY_FILE_PATH: '/tmp/mechanic-bench-memory.jsonl' } },
  ours: { command: process.execPath, args: [join(ROOT, 'test/support/mcp-test-server.ts')] },
}

async function startup(name: string, config: unknown, sandbox: Sandbox): Promise<number> {
  const servers = new McpServers(log, sandbox, baseEnv)
  await servers.apply(parseMcpConfig(JSON.stringify({ mcpServers: { [name]: config } }), process.env))
  const status = servers.get(name)!.status
  if (status.state !== 'connected') throw new Error(`${name} did not connect: ${status.lastError}`)
  await servers.stop()
  return status.startupMs!
}

async function startups() {
  const rows = []
  for (const [name, config] of Object.entries(SERVERS)) {
    const inside: number[] = []
    const outside: number[] = []
    for (let i = 0; i < STARTS; i++) {
      inside.push(await startup(name, config, sandboxed))
      outside.push(await startup(name, config, bare))
    }
    const s = figures(inside, 1)
    const o = figures(outside, 1)
    rows.push({ server: name, startupMs: s, withoutSandboxMs: o, sandboxCostMs: overhead(s, o) })
  }
  return rows
}

async function calls() {
  const servers = new McpServers(log, sandboxed, baseEnv)
  await servers.apply(parseMcpConfig(JSON.stringify({ mcpServers: { everything: SERVERS.everything } }), process.env))
  const catalog = new McpCatalog(servers, { record: () => undefined, secrets: [] })
  const echo = catalog.all().find((t) => t.name === 'everything__echo')!
  const bare = new Client({ name: 'bench', version: '1' })
  await bare.connect(new StdioClientTransport({ command: bin('mcp-server-everything'), args: ['stdio'], stderr: 'ignore' }))
  const ours: number[] = []
  const raw: number[] = []
  for (let i = 0; i < WARMUP + CALLS; i++) {
    const args = { message: `call ${i}` }
    const t0 = performance.now()
    const parsed = echo.schema.safeParse(args)
    if (!parsed.success) throw new Error(parsed.error.message)
    await echo.run(parsed.data, context)
    const t1 = performance.now()
    await bare.callTool({ name: 'echo', arguments: args })
    const t2 = performance.now()
    if (i < WARMUP) continue
    ours.push(t1 - t0)
    raw.push(t2 - t1)
  }
  await bare.close()
  await servers.stop()
  const o = figures(ours, 3)
  const r = figures(raw, 3)
  return { ours: o, bareSdk: r, overheadMs: overhead(o, r) }
}

const start = await startups()
printTable([['server', 'sandboxed start p50 ms', 'p99 ms', 'without sandbox p50 ms', 'p99 ms', 'sandbox cost p50 ms'], ...start.map((s) => [s.server, s.startupMs.p50, s.startupMs.p99, s.withoutSandboxMs.p50, s.withoutSandboxMs.p99, s.sandboxCostMs.p50])])
const call = await calls()
printVersus('echo call', ['bare SDK client', call.bareSdk], ['Mechanic agent tool', call.ours])
writeResult('mcp', { settings: { calls: CALLS, starts: STARTS }, startups: start, call })
process.exit(0)
