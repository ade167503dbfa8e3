import pgvector from 'pgvector'
import { inTransaction } from './database.ts'
import type { Pool } from './database.ts'

export type MemoryScope = 'user' | 'agent' | 'chat'

/** Whose memory it is: a person (user id), a chat (chat id, shared by its members) or an agent (name). */
export interface MemoryOwner {
  scope: MemoryScope
  ownerId: string
}

export interface MemoryRow extends MemoryOwner {
  id: number
  content: string
  metadata: Record<string, unknown>
  createdAt: Date
  updatedAt: Date
}

export interface RecalledMemory extends MemoryRow {
  /** Cosine similarity to the query, 1 = same direction. */
  similarity: number
}

type Db = Pick<Pool, 'query'>

const columns = `id, scope, owner_id as "ownerId", content, metadata, created_at as "createdAt", updated_at as "updatedAt"`
type Raw = Omit<MemoryRow, 'id'> & { id: string }
const toRow = <T extends Raw>(r: T) => ({ ...r, id: Number(r.id) })

const dimOf = (embedding: number[]) => {
  if (!Number.isInteger(embedding.length) || embedding.length < 1 || embedding.length > 16000) throw new Error(`an embedding of ${embedding.length} dimensions cannot be stored`)
  return embedding.length
}

/**
 * The HNSW index (cosine) for one embedding dimension: an expression index over the rows of that
 * dimension, made at start for the configured model (idempotent; cheap when it exists).
 */
export async function ensureMemoryIndex(db: Db, dim: number): Promise<void> {
  if (!Number.isInteger(dim) || dim < 1 || dim > 2000) throw new Error(`EMBEDDING_DIM ${dim} cannot be indexed (HNSW takes 1-2000 dimensions)`)
  await db.query(`create index if not exists memories_hnsw_${dim} on memories using hnsw ((embedding::vector(${dim})) vector_cosine_ops) where dim = ${dim}`)
}

/** The owner's memory most similar to `embedding`, if any (for de-duplication). */
export async function nearest(pool: Pool, owner: MemoryOwner, embedding: number[]): Promise<RecalledMemory | undefined> {
  return (await search(pool, [owner], embedding, { limit: 1 }))[0]
}

export async function insertMemory(db: Db, owner: MemoryOwner, content: string, embedding: number[], metadata: Record<string, unknown>): Promise<MemoryRow> {
  const { rows } = await db.query<Raw>(
    `insert into memories (scope, owner_id, content, embedding, dim, metadata) values ($1, $2, $3, $4, $5, $6) returning ${columns}`,
    [owner.scope, owner.ownerId, content, pgvector.toSql(embedding), dimOf(embedding), JSON.stringify(metadata)],
  )
  return toRow(rows[0]!)
}

/** Replaces a memory's text and embedding (a near-duplicate said it again, perhaps differently). */
export async function updateMemory(db: Db, id: number, content: string, embedding: number[], metadata: Record<string, unknown>): Promise<MemoryRow | undefined> {
  const { rows } = await db.query<Raw>(
    `update memories set content = $2, embedding = $3, dim = $4, metadata = metadata || $5::jsonb, updated_at = now() where id = $1 returning ${columns}`,
    [id, content, pgvector.toSql(embedding), dimOf(embedding), JSON.stringify(metadata)],
  )
  return rows[0] && toRow(rows[0])
}

/**
 * The memories of `owners` closest to `embedding`, best first: by HNSW (pgvector's ef_search unless
 * `efSearch` is given; raising it to 100 bought no recall in our bench, only 1 ms), or, with
 * `exact`, by a full scan (the baseline the bench compares HNSW's recall and speed with).
 */
/** Whether any of the owners has a memory (an index lookup; no embedding needed). */
export async function hasMemories(pool: Pool, owners: readonly MemoryOwner[]): Promise<boolean> {
  if (owners.length === 0) return false
  const { rows } = await pool.query<{ found: boolean }>(
    `select exists (select 1 from memories where (scope, owner_id) in (select * from unnest($1::text[], $2::text[]))) as found`,
    [owners.map((o) => o.scope), owners.map((o) => o.ownerId)],
  )
  return rows[0]?.found === true
}

export async function search(
  pool: Pool,
  owners: readonly MemoryOwner[],
  embedding: number[],
  opts: { limit: number; exact?: boolean; efSearch?: number },
): Promise<RecalledMemory[]> {
  if (owners.length === 0) return []
  const dim = dimOf(embedding)
  const distance = `(embedding::vector(${dim}) <=> $1::vector(${dim}))`
  const sql = `select ${columns}, 1 - ${distance} as similarity from memories
     where dim = ${dim} and (scope, owner_id) in (select * from unnest($2::text[], $3::text[]))
     order by ${distance} limit $4`
  const params = [pgvector.toSql(embedding), owners.map((o) => o.scope), owners.map((o) => o.ownerId), opts.limit]
  if (!opts.exact && opts.efSearch === undefined) return (await pool.query<Raw & { similarity: number }>(sql, params)).rows.map(toRow)
  const setting = opts.exact ? 'set local enable_indexscan = off' : `set local hnsw.ef_search = ${Math.max(opts.limit, Math.trunc(opts.efSearch ?? 40))}`
  const rows = await inTransaction(pool, async (client) => {
    await client.query(setting)
    return (await client.query<Raw & { similarity: number }>(sql, params)).rows
  })
  return rows.map(toRow)
}

/** A person's own memories, newest first, a page at a time; and how many there are. */
export async function listMemories(db: Db, owner: MemoryOwner, page: number, pageSize: number): Promise<{ rows: MemoryRow[]; total: number }> {
  const { rows } = await db.query<Raw & { total: string }>(
    `select ${columns}, count(*) over () as total from memories where scope = $1 and owner_id = $2 order by created_at desc, id desc offset $3 limit $4`,
    [owner.scope, owner.ownerId, page * pageSize, pageSize],
  )
  const total = rows[0] ? Number(rows[0].total) : (await countMemories(db, owner))
  return { rows: rows.map(({ total: _t, ...r }) => toRow(r)), total }
}

async function countMemories(db: Db, owner: MemoryOwner): Promise<number> {
  const { rows } = await db.query<{ n: string }>('select count(*) as n from memories where scope = $1 and owner_id = $2', [owner.scope, owner.ownerId])
  return Number(rows[0]?.n ?? 0)
}

/** Deletes one memory, only if it belongs to `owner`: nobody forgets another person's memory. */
export async function deleteMemory(db: Db, owner: MemoryOwner, id: number): Promise<boolean> {
  const { rowCount } = await db.query('delete from memories where id = $1 and scope = $2 and owner_id = $3', [id, owner.scope, owner.ownerId])
  return (rowCount ?? 0) > 0
}

export async function deleteAllMemories(db: Db, owner: MemoryOwner): Promise<number> {
  const { rowCount } = await db.query('delete from memories where scope = $1 and owner_id = $2', [owner.scope, owner.ownerId])
  return rowCount ?? 0
}
