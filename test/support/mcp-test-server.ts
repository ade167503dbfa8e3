// A tiny MCP server of our own for the cases real servers do not show: a call that hangs, a server
// that crashes mid-call, output far too big, a schema that is not JSON Schema, a writing tool, and a
// tool that spawns a child (to prove a whole process group is killed). Stdio; run with node.
import { spawn } from 'node:child_process'
import { appendFileSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { Server } from '@modelcontextprotocol/sdk/server/index.js'
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js'
import { CallToolRequestSchema, ListToolsRequestSchema } from '@modelcontextprotocol/sdk/types.js'

const readOnly = { readOnlyHint: true }
const TOOLS = [
  { name: 'hang', description: 'Never answers.', inputSchema: { type: 'object', properties: {} }, annotations: readOnly },
  { name: 'crash', description: 'Exits in the middle of the call.', inputSchema: { type: 'object', properties: {} }, annotations: readOnly },
  { name: 'huge', description: 'Returns a megabyte of text.', inputSchema: { type: 'object', properties: {} }, annotations: readOnly },
  { name: 'fail', description: 'Reports an error result.', inputSchema: { type: 'object', properties: {} }, annotations: readOnly },
  { name: 'bad_schema', description: 'Its schema is not JSON Schema.', inputSchema: { type: 'object', properties: { x: { type: 'no-such-type' } } } },
  {
    name: 'write_note',
    description: 'Appends a note to the notes file.',
    inputSchema: { type: 'object', properties: { text: { type: 'string', minLength: 1 } }, required: ['text'], additionalProperties: false },
    annotations: { readOnlyHint: false, destructiveHint: false },
  },
  {
    name: 'probe',
    description: 'Tries to read each path (a file, or a folder listing) and every /proc/<pid>/environ it can see, as a hostile server would; says what it got (the names of the variables it saw).',
    inputSchema: { type: 'object', properties: { paths: { type: 'array', items: { type: 'string' } } }, required: ['paths'] },
    annotations: readOnly,
  },
  { name: 'spawn_child', description: 'Starts a long-lived child process and writes its pid to PID_FILE.', inputSchema: { type: 'object', properties: {} }, annotations: readOnly },
]

const server = new Server({ name: 'mechanic-test-server', version: '1.0.0' }, { capabilities: { tools: {} } })
server.setRequestHandler(ListToolsRequestSchema, () => ({ tools: TOOLS }))
server.setRequestHandler(CallToolRequestSchema, async (request) => {
  const text = (t: string) => ({ content: [{ type: 'text' as const, text: t }] })
  switch (request.params.name) {
    case 'hang':
      return new Promise<never>(() => undefined)
    case 'crash':
      setTimeout(() => process.exit(3), 20)
      return new Promise<never>(() => undefined)
    case 'huge':
      return text('x'.repeat(1_000_000))
    case 'fail':
      return { content: [{ type: 'text' as const, text: 'the thing is broken' }], isError: true }
    case 'write_note': {
      const text0 = (request.params.arguments as { text?: unknown } | undefined)?.text
      const note = typeof text0 === 'string' ? text0 : ''
      appendFileSync(process.env.NOTES_FILE ?? '/dev/null', `${note}\n`)
      return text(`saved: ${note}`)
    }
    case 'probe': {
      const paths = ((request.params.arguments as { paths?: unknown } | undefined)?.paths ?? []) as string[]
      const attempt = (path: string) => {
        try {
          return statSync(path).isDirectory() ? readdirSync(path).join(',') : readFileSync(path, 'utf8')
        } catch (err) {
          return `error: ${(err as NodeJS.ErrnoException).code ?? String(err)}`
        }
      }
      const read = Object.fromEntries(paths.map((p) => [p, attempt(p).slice(0, 60)]))
      const pids = readdirSync('/proc').filter((d) => /^\d+$/.test(d))
      const environs = pids.map((d) => attempt(`/proc/${d}/environ`)).join('\n')
      return text(JSON.stringify({ read, environVariables: [...new Set(environs.split(/[\0\n]/).map((v) => v.split('=')[0]))].filter(Boolean), pids: pids.length }))
    }
    case 'spawn_child': {
      // Its argv names PID_FILE, so a test can find it from outside a PID namespace too.
      const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)', String(process.env.PID_FILE)], { stdio: 'ignore' })
      writeFileSync(process.env.PID_FILE ?? '/dev/null', String(child.pid))
      return text(`child ${child.pid}`)
    }
    default:
      return { content: [{ type: 'text' as const, text: `no tool ${request.params.name}` }], isError: true }
  }
})
await server.connect(new StdioServerTransport())
