import { randomBytes } from 'node:crypto'
import type { Pool } from './database.ts'

type Db = Pick<Pool, 'query'>

/** A repository admins added with /repos (or the configured one's stored test command: url null). */
export interface RepositoryRow {
  name: string
  url: string | null
  githubRepository: string | null
  testCommand: string | null
  addedBy: number
  createdAt: Date
}

const columns = `name, url, github_repository as "githubRepository", test_command as "testCommand", added_by as "addedBy", created_at as "createdAt"`
type Raw = Omit<RepositoryRow, 'addedBy'> & { addedBy: string }
const toRow = (r: Raw): RepositoryRow => ({ ...r, addedBy: Number(r.addedBy) })

export async function listRepositories(db: Db): Promise<RepositoryRow[]> {
  const { rows } = await db.query<Raw>(`select ${columns} from repositories order by name`)
  return rows.map(toRow)
}

export async function getRepository(db: Db, name: string): Promise<RepositoryRow | undefined> {
  const { rows } = await db.query<Raw>(`select ${columns} from repositories where name = $1`, [name])
  return rows[0] && toRow(rows[0])
}

/** Adds a repository; false when the name is taken. */
export async function addRepository(db: Db, r: { name: string; url: string; githubRepository: string | null; addedBy: number }): Promise<boolean> {
  const { rowCount } = await db.query(
    `insert into repositories (name, url, github_repository, added_by) values ($1, $2, $3, $4) on conflict (name) do nothing`,
    [r.name, r.url, r.githubRepository, r.addedBy],
  )
  return rowCount === 1
}

/** Removes an added repository and every chat's choice of it; false when there was none. */
export async function removeRepository(db: Db, name: string): Promise<boolean> {
  await db.query('delete from chat_repositories where repository = $1', [name])
  const { rowCount } = await db.query('delete from repositories where name = $1 and url is not null', [name])
  return rowCount === 1
}

/** Sets (or with null clears) a repository's test command; the configured repository gets a row of its own for it. */
export async function setTestCommand(db: Db, name: string, command: string | null, by: number, configured: boolean): Promise<boolean> {
  if (configured) {
    await db.query(
      `insert into repositories (name, test_command, added_by) values ($1, $2, $3)
       on conflict (name) do update set test_command = excluded.test_command, updated_at = now()`,
      [name, command, by],
    )
    return true
  }
  const { rowCount } = await db.query('update repositories set test_command = $2, updated_at = now() where name = $1 and url is not null', [name, command])
  return rowCount === 1
}

/** How many of a repository's tasks are not over yet (queued, running or waiting for a decision). */
export async function unfinishedTasks(db: Db, name: string): Promise<number> {
  const { rows } = await db.query<{ n: number }>(`select count(*)::int as n from tasks where repository = $1 and status in ('queued', 'running', 'waiting')`, [name])
  return rows[0]?.n ?? 0
}

export async function chatRepository(db: Db, chatId: number): Promise<string | undefined> {
  const { rows } = await db.query<{ repository: string }>('select repository from chat_repositories where chat_id = $1', [chatId])
  return rows[0]?.repository
}

export async function setChatRepository(db: Db, chatId: number, repository: string | null, by: number): Promise<void> {
  if (repository === null) await db.query('delete from chat_repositories where chat_id = $1', [chatId])
  else
    await db.query(
      `insert into chat_repositories (chat_id, repository, set_by) values ($1, $2, $3)
       on conflict (chat_id) do update set repository = excluded.repository, set_by = excluded.set_by, set_at = now()`,
      [chatId, repository, by],
    )
}

/** Keeps a /code request until its person picks the repository; requests older than a day go. */
export async function parkCodeRequest(db: Db, r: { chatId: number; userId: number; request: string }): Promise<string> {
  const id = randomBytes(6).toString('base64url')
  await db.query(`delete from parked_code_requests where created_at < now() - interval '1 day'`)
  await db.query('insert into parked_code_requests (id, chat_id, user_id, request) values ($1, $2, $3, $4)', [id, r.chatId, r.userId, r.request])
  return id
}

/** The parked request, for its own person in its own chat; undefined when gone or not theirs. */
export async function parkedCodeRequest(db: Db, id: string, chatId: number, userId: number): Promise<string | undefined> {
  const { rows } = await db.query<{ request: string }>('select request from parked_code_requests where id = $1 and chat_id = $2 and user_id = $3', [id, chatId, userId])
  return rows[0]?.request
}

/** Drops a parked request once it was handed to the coder (a press handled twice finds it gone). */
export async function dropCodeRequest(db: Db, id: string): Promise<void> {
  await db.query('delete from parked_code_requests where id = $1', [id])
}
