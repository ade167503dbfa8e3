import { createServer, connect } from 'node:net'
import type { Server, Socket } from 'node:net'

/**
 * A TCP proxy on 127.0.0.1 in front of a real server, for outage tests: `cut()` drops every
 * connection and refuses new ones (as a dead database host does), `restore()` serves again on the
 * same port.
 */
export class TcpProxy {
  readonly #target: { host: string; port: number }
  readonly #sockets = new Set<Socket>()
  #server: Server | undefined
  port = 0

  constructor(target: { host: string; port: number }) {
    this.#target = target
  }

  async start(port = 0): Promise<this> {
    const server = createServer((client) => {
      const upstream = connect(this.#target.port, this.#target.host)
      for (const s of [client, upstream]) {
        this.#sockets.add(s)
        s.on('close', () => this.#sockets.delete(s))
        s.on('error', () => s.destroy())
      }
      client.pipe(upstream).pipe(client)
      client.on('close', () => upstream.destroy())
      upstream.on('close', () => client.destroy())
    })
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(port, '127.0.0.1', () => resolve())
    })
    this.#server = server
    this.port = (server.address() as { port: number }).port
    return this
  }

  async cut(): Promise<void> {
    const server = this.#server
    this.#server = undefined
    for (const s of this.#sockets) s.destroy()
    if (server) await new Promise((r) => server.close(r))
  }

  async restore(): Promise<void> {
    await this.start(this.port)
  }

  async close(): Promise<void> {
    await this.cut()
  }
}
