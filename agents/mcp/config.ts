import { readFileSync } from 'node:fs'
import { z } from 'zod'

/** A server's name: the prefix of its tools' names, so it must be short and plain. */
const SERVER_NAME = /^[A-Za-z0-9_-]{1,24}$/

/** A host path a sandboxed server may see: absolute, without `..` (what it names is what is bound). */
const absolutePath = z
  .string()
  .max(4096)
  .refine((p) => p.startsWith('/') && !p.includes('\0') && !p.split('/').includes('..'), { error: 'must be an absolute path without ..' })

/** Mechanic's own options for a server, beside the standard fields, under the key `mechanic`. */
const mechanicOptions = z.strictObject({
  /** The agents that get this server's tools besides those a person gives them (default: the assistant). */
  agents: z.array(z.string().min(1)).default(['assistant']),
  /** Tools that run without asking although they may change something (true: all of the server's). */
  trusted: z.union([z.literal(true), z.array(z.string().min(1))]).default([]),
  /** Tools that always ask, even when their annotations say they only read. */
  alwaysAsk: z.array(z.string().min(1)).default([]),
  /** Longest a call may take, in seconds. */
  timeoutSeconds: z.number().positive().max(3600).default(60),
  /** Most characters of a tool's output the model gets; the rest is cut, with a note. */
  maxOutputChars: z.number().int().positive().max(1_000_000).default(20_000),
  /** A stdio server's sandbox: the host paths it may read and write (nothing else of the host's but the system and its own program). */
  paths: z.array(absolutePath).max(32).default([]),
  /** Host paths it may only read. */
  readOnlyPaths: z.array(absolutePath).max(32).default([]),
})

const stdioServer = z.strictObject({
  command: z.string().min(1),
  args: z.array(z.string()).default([]),
  env: z.record(z.string(), z.string()).default({}),
  cwd: z.string().min(1).optional(),
  mechanic: mechanicOptions.default(() => mechanicOptions.parse({})),
})

const httpServer = z.strictObject({
  url: z.url({ error: 'must be an http(s) URL' }).refine((u) => /^https?:\/\//.test(u), { error: 'must be an http(s) URL' }),
  headers: z.record(z.string(), z.string()).default({}),
  /** Clients write this as "type"; "http" (streamable HTTP, falling back to SSE) or "sse" (SSE only). */
  type: z.enum(['http', 'streamable-http', 'sse']).optional(),
  mechanic: mechanicOptions.default(() => mechanicOptions.parse({})),
})

const fileSchema = z.object({ mcpServers: z.record(z.string(), z.unknown()) })

export type McpOptions = z.output<typeof mechanicOptions>
export type StdioServerConfig = z.output<typeof stdioServer> & { name: string; transport: 'stdio' }
export type HttpServerConfig = z.output<typeof httpServer> & { name: string; transport: 'http' | 'sse' }
export type McpServerConfig = StdioServerConfig | HttpServerConfig

/** The variables `${VAR}` may name (the service's environment, as the config read it). */
export type Environment = Readonly<Record<string, string | undefined>>

/** The MCP configuration could not be used; the message is one line naming the server and the problem. */
export class McpConfigError extends Error {
  override name = 'McpConfigError'
}

/** Replaces `${VAR}` in a value with the environment's VAR; a variable that is not set is an error. */
function expand(value: string, env: Environment, where: string): string {
  return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_, name: string) => {
    const found = env[name]
    if (found === undefined) throw new McpConfigError(`MCP_CONFIG: ${where} uses \${${name}}, which is not set in the environment.`)
    return found
  })
}

function expandAll<T>(value: T, env: Environment, where: string): T {
  if (typeof value === 'string') return expand(value, env, where) as T
  if (Array.isArray(value)) return value.map((v: unknown) => expandAll(v, env, where)) as T
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, expandAll(v, env, where)])) as T
  return value
}

const firstIssue = (error: z.ZodError) => {
  const issue = error.issues[0]
  const path = issue?.path.length ? `"${issue.path.join('.')}" ` : ''
  return `${path}${issue?.message ?? 'is invalid'}`
}

/**
 * Parses an MCP configuration in the `mcpServers` shape that Claude Desktop, Cursor and most MCP
 * clients use: a server is `{command, args, env}` (stdio) or `{url, headers}` (streamable HTTP,
 * or SSE). `${VAR}` in any value is taken from the environment, so secrets stay out of the file.
 * Mechanic's own options sit under `mechanic`. Throws McpConfigError with one line for a person.
 */
export function parseMcpConfig(text: string, env: Environment): McpServerConfig[] {
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (err) {
    throw new McpConfigError(`MCP_CONFIG is not valid JSON: ${(err as Error).message}.`)
  }
  const file = fileSchema.safeParse(json)
  if (!file.success) throw new McpConfigError('MCP_CONFIG must be an object with "mcpServers": { "<name>": { ... } }.')
  return Object.entries(file.data.mcpServers).map(([name, raw]): McpServerConfig => {
    if (!SERVER_NAME.test(name)) throw new McpConfigError(`MCP_CONFIG: server "${name.slice(0, 40)}" needs a name of 1-24 letters, digits, _ or -.`)
    const isHttp = typeof raw === 'object' && raw !== null && 'url' in raw
    const parsed = (isHttp ? httpServer : stdioServer).safeParse(raw)
    if (!parsed.success) throw new McpConfigError(`MCP_CONFIG: server "${name}": ${firstIssue(parsed.error)}.`)
    const expanded = expandAll(parsed.data, env, `server "${name}"`)
    if ('url' in expanded) return { ...expanded, name, transport: expanded.type === 'sse' ? 'sse' : 'http' }
    return { ...expanded, name, transport: 'stdio' }
  })
}

/** Reads and parses the file MCP_CONFIG names. */
export function loadMcpConfig(path: string, env: Environment): McpServerConfig[] {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (err) {
    throw new McpConfigError(`MCP_CONFIG: cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}.`)
  }
  return parseMcpConfig(text, env)
}

/** A server's own secrets: its env values (stdio) or header values (HTTP), often tokens given through ${VAR}. */
export const serverSecrets = (c: McpServerConfig): string[] => Object.values(c.transport === 'stdio' ? c.env : c.headers)
