import { createServer } from 'node:http'
import type { IncomingMessage, RequestListener, Server, ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

/** Reads a request body as bytes. */
export async function readBytes(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const chunk of req) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks)
}

/** Reads a request body as text. */
export async function readBody(req: IncomingMessage): Promise<string> {
  return (await readBytes(req)).toString('utf8')
}

/** One field of a multipart/form-data body: a file's bytes and name, or a text value (as bytes). */
export interface FormField {
  data: Buffer
  filename?: string | undefined
  contentType?: string | undefined
}

/** Parses a multipart/form-data body, binary-safe (files are bytes, not text). */
export function parseMultipart(body: Buffer, contentType: string): Map<string, FormField> {
  const boundary = /boundary=(?:"([^"]+)"|([^;]+))/.exec(contentType)
  const fields = new Map<string, FormField>()
  if (!boundary) return fields
  const delimiter = Buffer.from(`--${boundary[1] ?? boundary[2]}`)
  let at = body.indexOf(delimiter)
  while (at >= 0) {
    const start = at + delimiter.length
    const next = body.indexOf(delimiter, start)
    if (next < 0) break
    const part = body.subarray(start, next)
    const headerEnd = part.indexOf('\r\n\r\n')
    if (headerEnd >= 0) {
      const headers = part.subarray(0, headerEnd).toString('utf8')
      const name = /name="([^"]*)"/.exec(headers)?.[1]
      // The part's data ends before the CRLF that precedes the next delimiter.
      const data = part.subarray(headerEnd + 4, part.length - 2)
      if (name !== undefined) fields.set(name, { data, filename: /filename="?([^";\r\n]*)"?/.exec(headers)?.[1], contentType: /content-type:\s*([^\r\n]+)/i.exec(headers)?.[1] })
    }
    at = next
  }
  return fields
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body)
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers })
  res.end(text)
}

/** Starts an HTTP server on 127.0.0.1 (a free port unless given) and returns it with its base URL. */
export async function listenLocal(handler: RequestListener, port = 0): Promise<{ server: Server; url: string }> {
  const server = createServer(handler)
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, '127.0.0.1', () => resolve())
  })
  const { port: actual } = server.address() as AddressInfo
  return { server, url: `http://127.0.0.1:${actual}` }
}

/**
 * `count` distinct ports on 127.0.0.1 that the system just had free (each bound, then all released),
 * for a program of someone else's that takes its port as a setting: a port picked at random may be
 * one the system has lent to a connection.
 */
export async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(Array.from({ length: count }, () => listenLocal((_req, res) => res.end())))
  await Promise.all(servers.map(({ server }) => closeServer(server)))
  return servers.map(({ url }) => Number(new URL(url).port))
}

export async function closeServer(server: Server): Promise<void> {
  server.closeAllConnections()
  await new Promise<void>((resolve) => server.close(() => resolve()))
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/** Polls `check` until it returns a value other than undefined/false, or fails after `timeoutMs`. */
export async function waitUntil<T>(check: () => T | undefined | false | Promise<T | undefined | false>, what: string, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await check()
    if (value !== undefined && value !== false) return value
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await sleep(25)
  }
}

/** An HTTP server of ours on 127.0.0.1 (the emulators): start on a port (default: a free one), close. */
export abstract class LoopbackServer {
  #server: Server | undefined
  #url = ''

  /** http://127.0.0.1:<port>, once started. */
  protected get origin(): string {
    return this.#url
  }

  protected abstract handle(req: IncomingMessage, res: ServerResponse): Promise<void>

  async start(port = 0): Promise<this> {
    const { server, url } = await listenLocal((req, res) => void this.handle(req, res), port)
    this.#server = server
    this.#url = url
    return this
  }

  async close(): Promise<void> {
    if (this.#server) await closeServer(this.#server)
  }
}
