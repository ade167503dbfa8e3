// npm run bench (second part): recall latency over 10k and 100k memories, HNSW against an exact scan
// measured in the same run, and HNSW's recall@10 against the exact answer. Native Postgres
// (TEST_DATABASE_URL) for both sizes. HNSW runs with pgvector's default ef_search (40) and with 100; the embedded database for 10k. Writes bench/results/memory-*.json.
import pgvector from 'pgvector'
import { ensureMemoryIndex, search } from '../db/memories.ts'
import { TEST_DATABASE_URL, openPreparedDatabase } from '../test/support/database.ts'
import { hashedEmbedding } from '../test/support/openai-emulator.ts'
import { figures, writeResult } from './report.ts'

const DIM = 256
const QUERIES = 200
const K = 10
const owner = { scope: 'user' as const, ownerId: '1' }

// A fixed pseudo-random stream, so every run measures the same data.
let seed = 42
const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31)
const vocabulary = Array.from({ length: 3000 }, (_, i) => `w${i.toString(36)}`)
const sentence = () => Array.from({ length: 6 + Math.floor(rand() * 8) }, () => vocabulary[Math.floor(rand() ** 2 * vocabulary.length)]).join(' ')


async function benchSize(embedded: boolean, size: number) {
  const db = await openPreparedDatabase({ embedded })
  try {
    const t0 = performance.now()
    for (let done = 0; done < size; done += 1000) {
      const batch = Array.from({ length: Math.min(1000, size - done) }, sentence)
      await db.pool.query(
        `insert into memories (scope, owner_id, content, embedding, dim)
         select 'user', '1', c, e::vector, ${DIM} from unnest($1::text[], $2::text[]) as t(c, e)`,
        [batch, batch.map((s) => pgvector.toSql(hashedEmbedding(s, DIM)))],
      )
    }
    const insertMs = performance.now() - t0
    const t1 = performance.now()
    await ensureMemoryIndex(db.pool, DIM)
    await db.pool.query('analyze memories')
    const indexMs = performance.now() - t1
    const queries = Array.from({ length: QUERIES }, () => hashedEmbedding(sentence(), DIM))
    const hnsw: number[] = []
    const hnswDefault: number[] = []
    let withinDefault = 0 // at ef_search 100
    const exact: number[] = []
    let overlap = 0
    let withinTruth = 0
    for (const q of queries) {
      let t = performance.now()
      const approx = await search(db.pool, [owner], q, { limit: K })
      hnsw.push(performance.now() - t)
      t = performance.now()
      const approxDefault = await search(db.pool, [owner], q, { limit: K, efSearch: 100 })
      hnswDefault.push(performance.now() - t)
      t = performance.now()
      const truth = await search(db.pool, [owner], q, { limit: K, exact: true })
      exact.push(performance.now() - t)
      const ids = new Set(truth.map((m) => m.id))
      overlap += approx.filter((m) => ids.has(m.id)).length
      // Ties: bag-of-words vectors put many memories at exactly the same distance, so a result as
      // close as the exact 10th is as right as the one the exact scan happened to list.
      const tenth = truth.at(-1)?.similarity ?? 1
      withinTruth += approx.filter((m) => m.similarity >= tenth - 1e-9).length
      withinDefault += approxDefault.filter((m) => m.similarity >= tenth - 1e-9).length
    }
    const h = figures(hnsw)
    const e = figures(exact)
    return {
      engine: embedded ? 'embedded' : 'postgres',
      size,
      insertSeconds: Math.round(insertMs / 100) / 10,
      indexSeconds: Math.round(indexMs / 100) / 10,
      hnswMs: h,
      exactMs: e,
      speedupP50: Math.round((e.p50 / h.p50) * 10) / 10,
      recallAt10: Math.round((withinTruth / (QUERIES * K)) * 1000) / 1000,
      efSearch100: { ms: figures(hnswDefault), recallAt10: Math.round((withinDefault / (QUERIES * K)) * 1000) / 1000 },
      recallAt10ById: Math.round((overlap / (QUERIES * K)) * 1000) / 1000,
    }
  } finally {
    await db.close()
  }
}

const runs = [{ embedded: true, size: 10_000 }, ...(TEST_DATABASE_URL ? [{ embedded: false, size: 10_000 }, { embedded: false, size: 100_000 }] : [])]
if (!TEST_DATABASE_URL) console.log('TEST_DATABASE_URL is not set: native Postgres (10k and 100k) skipped.')
const results = []
for (const r of runs) {
  const out = await benchSize(r.embedded, r.size)
  results.push(out)
  console.log(
    `${out.engine.padEnd(9)} ${String(out.size).padStart(6)} memories  HNSW p50 ${out.hnswMs.p50} ms p99 ${out.hnswMs.p99} ms  exact p50 ${out.exactMs.p50} ms p99 ${out.exactMs.p99} ms  ` +
      `×${out.speedupP50} at p50  recall@10 ${out.recallAt10} (by id ${out.recallAt10ById}; ef_search 100: ${out.efSearch100.recallAt10}, p50 ${out.efSearch100.ms.p50} ms)  (insert ${out.insertSeconds} s, index ${out.indexSeconds} s)`,
  )
}
writeResult('memory', { dim: DIM, queries: QUERIES, k: K, results })
