// What every benchmark shares: percentiles of a sample, a table on the console, a JSON file of the
// run in bench/results/ (git-ignored), the bare HTTP floor, and a turn timed from POST to reply.
import { mkdirSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { WEBHOOK_SECRET } from '../test/support/harness.ts'
import type { Harness } from '../test/support/harness.ts'
import { closeServer, listenLocal, waitUntil } from '../test/support/http.ts'
import type { ServiceProcess } from '../test/support/service.ts'

export interface Figures {
  n: number
  p50: number
  p99: number
  mean: number
}

/** Median, 99th percentile and mean of `samples`, rounded to `decimals`. */
export function figures(samples: readonly number[], decimals = 2): Figures {
  const sorted = [...samples].sort((a, b) => a - b)
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? NaN
  const round = (x: number) => Math.round(x * 10 ** decimals) / 10 ** decimals
  return { n: sorted.length, p50: round(at(0.5)), p99: round(at(0.99)), mean: round(sorted.reduce((a, b) => a + b, 0) / sorted.length) }
}

/** Prints rows as aligned columns (the first row is the header). */
export function printTable(rows: ReadonlyArray<ReadonlyArray<unknown>>): void {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => String(row[i]).length)))
  for (const row of rows) console.log(row.map((cell, i) => String(cell).padEnd(widths[i]!)).join('  '))
}

/** Writes a run's figures to bench/results/<name>-<time>.json and says where. */
export function writeResult(name: string, result: object): void {
  const dir = fileURLToPath(new URL('./results/', import.meta.url))
  mkdirSync(dir, { recursive: true })
  const file = `${dir}${name}-${new Date().toISOString().replace(/[:.]/g, '-')}.json`
  writeFileSync(file, `${JSON.stringify({ at: new Date().toISOString(), node: process.version, ...result }, null, 2)}\n`)
  console.log(`\nwrote ${file}`)
}

/** What ours adds over a baseline measured in the same run: the difference of the medians and of the p99s. */
export function overhead(ours: Figures, baseline: Figures): { p50: number; p99: number } {
  const round = (x: number) => Math.round(x * 1000) / 1000
  return { p50: round(ours.p50 - baseline.p50), p99: round(ours.p99 - baseline.p99) }
}

/** Prints a baseline, ours, and the overhead, as a table with a blank line before it. */
export function printVersus(what: string, baseline: [string, Figures], ours: [string, Figures]): void {
  const extra = overhead(ours[1], baseline[1])
  console.log()
  printTable([
    [what, 'p50 ms', 'p99 ms'],
    [baseline[0], baseline[1].p50, baseline[1].p99],
    [ours[0], ours[1].p50, ours[1].p99],
    ['overhead', extra.p50, extra.p99],
  ])
}

/**
 * The floor the webhook is measured against: a bare node:http server on loopback that answers 200
 * `{}` after reading the body, touching no database.
 */
export async function bareServer(): Promise<{ url: string; close: () => Promise<void> }> {
  const { server, url } = await listenLocal((req, res) => {
    req.resume()
    req.on('end', () => res.writeHead(200, { 'content-type': 'application/json', 'content-length': 2 }).end('{}'))
  })
  return { url, close: () => closeServer(server) }
}

/** The reply the test model's echo gets in a chat. */
export const echoReply = (text: string) => `[assistant] echo: ${text}`

/**
 * One turn, one at a time: `text` from `userId` delivered to the service's webhook; the milliseconds
 * from the POST to its echoed answer reaching the Telegram emulator.
 */
export async function timedTurn(h: Harness, service: ServiceProcess, text: string, userId: number): Promise<number> {
  const sent = h.telegram.callsOf('sendMessage').length
  const t0 = Date.now()
  const res = await service.deliver(h.text(text, { userId }), WEBHOOK_SECRET)
  await res.arrayBuffer()
  if (res.status !== 200) throw new Error(`webhook answered ${res.status}`)
  const reply = await waitUntil(() => h.telegram.callsOf('sendMessage').slice(sent).find((call) => call.params.text === echoReply(text)), `the reply in chat ${userId}`)
  return reply.at - t0
}
