import { Composer } from 'grammy'
import { audit } from '../../db/audit-log.ts'
import { setSetting } from '../../db/settings.ts'
import { listUsers, setAccess } from '../../db/users.ts'
import type { UserListing } from '../../db/users.ts'
import { commandName } from '../addressed.ts'
import type { Context } from '../context.ts'
import { parseModel } from './wizards.ts'

const composer = new Composer<Context>()

export const ADMIN_COMMANDS = ['users', 'allow', 'deny', 'model', 'status', 'approvals'] as const

// One gate for every admin command: the others never see a non-admin's attempt.
composer.command([...ADMIN_COMMANDS], async (ctx, next) => {
  if (ctx.isAdmin) return next()
  const command = commandName(ctx.msg.text)
  ctx.log.warn({ command }, 'admin command refused')
  await audit(ctx.services.db.pool, { action: 'admin_command_refused', actorId: ctx.from?.id, chatId: ctx.chat.id, detail: { command } })
  await ctx.reply('That command is for admins only.')
})

/** One person as /users lists them. Pure, for tests. */
export function userLine(u: UserListing, env: { admins: ReadonlySet<number>; allowed: ReadonlySet<number> }): string {
  const name = [u.firstName, u.username && `@${u.username}`].filter(Boolean).join(' ') || 'never wrote'
  const access = env.admins.has(u.telegramId) || u.role !== 'user'
    ? 'admin'
    : u.denied
      ? 'denied'
      : u.allowed
        ? 'allowed'
        : env.allowed.has(u.telegramId)
          ? 'allowed (env)'
          : 'not allowed'
  return `${u.telegramId} · ${name} · ${access}${u.lastSeenAt ? ` · seen ${u.lastSeenAt.toISOString().slice(0, 16).replace('T', ' ')}` : ''}`
}

composer.command('users', async (ctx) => {
  const users = await listUsers(ctx.services.db.pool)
  const env = { admins: ctx.services.adminIds, allowed: ctx.services.allowedUserIds }
  await ctx.reply(users.length ? ['People I know (id · name · access):', ...users.map((u) => userLine(u, env))].join('\n') : 'Nobody has written to me yet.')
})

/** The numeric Telegram id after /allow or /deny, or undefined. */
export function parseUserId(text: string): number | undefined {
  const t = text.trim()
  if (!/^\d{1,15}$/.test(t)) return undefined
  const id = Number(t)
  return id > 0 ? id : undefined
}

for (const access of ['allow', 'deny'] as const) {
  composer.command(access, async (ctx) => {
    const id = parseUserId(ctx.match)
    if (id === undefined) return void (await ctx.reply(`Send /${access} followed by the person's numeric Telegram id (they see it when I refuse them), e.g. /${access} 123456789.`))
    const { db, adminIds } = ctx.services
    if (access === 'deny' && adminIds.has(id)) return void (await ctx.reply(`${id} is an admin (TELEGRAM_ADMIN_IDS); admins cannot be denied.`))
    await setAccess(db.pool, id, access)
    await audit(db.pool, { action: access === 'allow' ? 'user_allowed' : 'user_denied', actorId: ctx.from?.id, chatId: ctx.chat.id, detail: { userId: id } })
    ctx.log.info({ target: id, access }, 'access changed')
    await ctx.reply(access === 'allow' ? `${id} may now talk to me.` : `${id} is denied from now on, even if ALLOWED_USER_IDS lists them.`)
  })
}

composer.command('model', async (ctx) => {
  const { agents, db } = ctx.services
  if (!ctx.match.trim()) return void (await ctx.reply(`The default model is ${await agents.defaultModel()}. Change it with /model <name>.`))
  const parsed = parseModel(ctx.match)
  if (!parsed.ok) return void (await ctx.reply(parsed.why.replace(', or tap "Default model"', '')))
  const before = await agents.defaultModel()
  await setSetting(db.pool, 'defaultModel', parsed.value, ctx.from?.id ?? 0)
  agents.changed()
  await audit(db.pool, { action: 'default_model_changed', actorId: ctx.from?.id, chatId: ctx.chat.id, detail: { from: before, to: parsed.value } })
  await ctx.reply(`The default model is now ${parsed.value} (was ${before}). Agents with a model of their own keep it.`)
})

export { composer as adminFeature }
