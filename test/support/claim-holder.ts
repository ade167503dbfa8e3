/**
 * A stand-in service process for take-over tests: opens the database at argv[2], takes its liveness
 * lock, claims update argv[3] with a long lease, prints its claimant and waits to be killed.
 */
import { openDatabase } from '../../db/database.ts'
import { claim } from '../../db/inbox.ts'
import { ProcessLiveness } from '../../worker/liveness.ts'
import { quietLog } from './database.ts'

const [url, updateId] = process.argv.slice(2)
const db = await openDatabase({ url, dataDir: '/nonexistent', log: quietLog })
const liveness = await ProcessLiveness.acquire(db, quietLog)
const rows = await claim(db.pool, { limit: 1, leaseMs: 60_000, claimant: liveness.claimant })
if (rows[0]?.updateId !== Number(updateId)) throw new Error(`expected to claim update ${updateId}, got ${JSON.stringify(rows)}`)
process.stdout.write(`${JSON.stringify({ claimant: liveness.claimant })}\n`)
setInterval(() => undefined, 60_000)
