import { describe, expect, test } from 'vitest'
import { parseMcpConfig } from '../../../agents/mcp/config.ts'
import { capOutput, mcpToolName, redactArgs, resultText } from '../../../agents/mcp/tools.ts'
import { createScrubber } from '../../../logger.ts'

const env = { API_TOKEN: 'tok-123456', HOST: 'mcp.example.com' }
const parse = (servers: unknown) => parseMcpConfig(JSON.stringify({ mcpServers: servers }), env)
const refusal = (text: string) => {
  try {
    parseMcpConfig(text, env)
  } catch (err) {
    return (err as Error).message
  }
  return 'accepted'
}

describe('the MCP configuration (the mcpServers shape)', () => {
  test('stdio and HTTP servers, with ${VAR} taken from the environment and defaults for our options', () => {
    const [stdio, http, sse] = parse({
      fs: { command: 'npx', args: ['-y', 'server', '${HOST}'], env: { KEY: '${API_TOKEN}' } },
      web: { url: 'https://${HOST}/mcp', headers: { Authorization: 'Bearer ${API_TOKEN}' }, mechanic: { agents: ['coder'], trusted: ['search'], timeoutSeconds: 5 } },
      old: { url: 'http://127.0.0.1:9/sse', type: 'sse' },
    })
    expect(stdio).toMatchObject({ name: 'fs', transport: 'stdio', command: 'npx', args: ['-y', 'server', 'mcp.example.com'], env: { KEY: 'tok-123456' }, mechanic: { agents: ['assistant'], trusted: [], timeoutSeconds: 60, maxOutputChars: 20_000 } })
    expect(http).toMatchObject({ name: 'web', transport: 'http', url: 'https://mcp.example.com/mcp', headers: { Authorization: 'Bearer tok-123456' }, mechanic: { agents: ['coder'], trusted: ['search'], timeoutSeconds: 5 } })
    expect(sse).toMatchObject({ transport: 'sse' })
  })

  test('a bad file stops the start with one line naming the server and the problem', () => {
    expect(refusal('{nope')).toMatch(/^MCP_CONFIG is not valid JSON/)
    expect(refusal('{"servers": {}}')).toBe('MCP_CONFIG must be an object with "mcpServers": { "<name>": { ... } }.')
    expect(refusal(JSON.stringify({ mcpServers: { 'bad name!': { command: 'x' } } }))).toMatch(/^MCP_CONFIG: server "bad name!" needs a name/)
    expect(refusal(JSON.stringify({ mcpServers: { a: { command: '' } } }))).toMatch(/^MCP_CONFIG: server "a": "command" /)
    expect(refusal(JSON.stringify({ mcpServers: { a: { command: 'x', colour: 'red' } } }))).toMatch(/^MCP_CONFIG: server "a": .*colour/)
    expect(refusal(JSON.stringify({ mcpServers: { a: { url: 'ftp://x' } } }))).toMatch(/^MCP_CONFIG: server "a": "url" must be an http\(s\) URL/)
    expect(refusal(JSON.stringify({ mcpServers: { a: { command: 'x', env: { K: '${NOT_SET}' } } } }))).toBe('MCP_CONFIG: server "a" uses ${NOT_SET}, which is not set in the environment.')
    expect(refusal(JSON.stringify({ mcpServers: { a: { command: 'x', mechanic: { timeoutSeconds: -1 } } } }))).toMatch(/^MCP_CONFIG: server "a": "mechanic.timeoutSeconds"/)
  })
})

describe('MCP tool results and names', () => {
  test('names carry the server, keep their case, and fit what models accept', () => {
    expect(mcpToolName('GitHub', 'createIssue')).toBe('GitHub__createIssue')
    expect(mcpToolName('fs', 'read file.v2')).toBe('fs__read_file_v2')
    expect(mcpToolName('s', 'x'.repeat(100))).toHaveLength(64)
  })

  test('images and binary resources are summarised, never passed on as base64; text is capped with a note', () => {
    const image = 'A'.repeat(4000)
    const text = resultText({
      content: [
        { type: 'text', text: 'hello' },
        { type: 'image', data: image, mimeType: 'image/png' },
        { type: 'resource', resource: { uri: 'file:///a.txt', text: 'inside' } },
        { type: 'resource', resource: { uri: 'file:///b.bin', blob: 'AAAA', mimeType: 'application/zip' } },
      ],
    })
    expect(text).toBe('hello\n[image image/png, 3000 bytes; not shown]\nResource file:///a.txt:\ninside\n[resource file:///b.bin, application/zip; not shown]')
    expect(resultText({ content: [], structuredContent: { sum: 3 } })).toBe('{"sum":3}')
    expect(capOutput('abcdef', 3)).toBe('abc\n[Output cut: 3 of 6 characters shown.]')
  })

  test('arguments in the audit log: secret-looking keys and known secret values redacted, long values cut', () => {
    expect(redactArgs({ query: 'with sk-secret-value inside', apiKey: 'x', nested: { password: 'p', ok: 1 }, long: 'y'.repeat(400) }, createScrubber(['sk-secret-value']))).toEqual({
      query: 'with [redacted] inside',
      apiKey: '[redacted]',
      nested: { password: '[redacted]', ok: 1 },
      long: `${'y'.repeat(300)}…`,
    })
  })
})
