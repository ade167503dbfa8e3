import { audit } from '../db/audit-log.ts'
import type { Pool } from '../db/database.ts'
import * as db from '../db/users.ts'

export type { UserListing } from '../db/users.ts'

/**
 * Who may talk to the bot: admins (TELEGRAM_ADMIN_IDS, or the admin role), and people on the allow
 * list (ALLOWED_USER_IDS) or allowed with /allow, unless an admin denied them. Refusals are audited.
 */
export class Access {
  readonly #pool: Pool
  readonly adminIds: ReadonlySet<number>
  readonly allowedUserIds: ReadonlySet<number>

  constructor(deps: { pool: Pool; adminIds: Iterable<number>; allowedUserIds: Iterable<number> }) {
    this.#pool = deps.pool
    this.adminIds = new Set(deps.adminIds)
    this.allowedUserIds = new Set(deps.allowedUserIds)
  }

  /** Makes the users table agree with the env's admin list (at start). */
  seed = () => db.seedFromEnv(this.#pool, [...this.adminIds])

  /** Records that a person was seen, and whether they are an admin and may be served. */
  async admit(person: { id: number; username?: string | undefined; firstName?: string | undefined }): Promise<{ isAdmin: boolean; allowed: boolean }> {
    const user = await db.touch(this.#pool, person)
    const isAdmin = this.adminIds.has(person.id) || user.role === 'admin' || user.role === 'owner'
    return { isAdmin, allowed: isAdmin || (!user.denied && (this.allowedUserIds.has(person.id) || user.allowed)) }
  }

  /** Whether a person may still be served (read only: a schedule firing in their name asks this). */
  async mayUse(personId: number): Promise<boolean> {
    const user = await db.getUser(this.#pool, personId)
    if (this.adminIds.has(personId) || user?.role === 'admin' || user?.role === 'owner') return true
    return !user?.denied && (this.allowedUserIds.has(personId) || user?.allowed === true)
  }

  /** A person who may not talk to the bot tried to. */
  refused = (personId: number, chatId: number | undefined, kind: string) => audit(this.#pool, { action: 'access_denied', actorId: personId, chatId, detail: { kind } })

  /** A non-admin tried an admin command. */
  adminCommandRefused = (personId: number | undefined, chatId: number | undefined, command: string) =>
    audit(this.#pool, { action: 'admin_command_refused', actorId: personId, chatId, detail: { command } })

  /** Everyone the bot knows, admins first, then by last contact. */
  list = () => db.listUsers(this.#pool)

  /** /allow and /deny; an env admin cannot be denied. */
  async setAccess(targetId: number, access: 'allow' | 'deny', by: number | undefined, chatId: number | undefined): Promise<'done' | 'is_admin'> {
    if (access === 'deny' && this.adminIds.has(targetId)) return 'is_admin'
    await db.setAccess(this.#pool, targetId, access)
    await audit(this.#pool, { action: access === 'allow' ? 'user_allowed' : 'user_denied', actorId: by, chatId, detail: { userId: targetId } })
    return 'done'
  }
}
