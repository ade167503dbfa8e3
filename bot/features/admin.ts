import type { CommandContext } from 'grammy'
import type { UserListing } from '../../services/access.ts'
import type { Context } from '../context.ts'
import { personOf } from '../people.ts'
import { parseModel } from './wizards.ts'

type Ctx = CommandContext<Context>

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

/** The numeric Telegram id after /allow or /deny, or undefined. */
export function parseUserId(text: string): number | undefined {
  const t = text.trim()
  if (!/^\d{1,15}$/.test(t)) return undefined
  const id = Number(t)
  return id > 0 ? id : undefined
}

export async function users(ctx: Ctx): Promise<void> {
  const { access } = ctx.services
  const list = await access.list()
  const env = { admins: access.adminIds, allowed: access.allowedUserIds }
  await ctx.reply(list.length ? ['People I know (id · name · access):', ...list.map((u) => userLine(u, env))].join('\n') : 'Nobody has written to me yet.')
}

/** /allow or /deny. */
export const changeAccess = (change: 'allow' | 'deny') => async (ctx: Ctx) => {
  const id = parseUserId(ctx.match)
  if (id === undefined) return void (await ctx.reply(`Send /${change} followed by the person's numeric Telegram id (they see it when I refuse them), e.g. /${change} 123456789.`))
  const done = await ctx.services.access.setAccess(id, change, ctx.from?.id, ctx.chat.id)
  if (done === 'is_admin') return void (await ctx.reply(`${id} is an admin (TELEGRAM_ADMIN_IDS); admins cannot be denied.`))
  ctx.log.info({ target: id, access: change }, 'access changed')
  await ctx.reply(change === 'allow' ? `${id} may now talk to me.` : `${id} is denied from now on, even if ALLOWED_USER_IDS lists them.`)
}

export async function model(ctx: Ctx): Promise<void> {
  const { agents } = ctx.services
  if (!ctx.match.trim()) return void (await ctx.reply(`The default model is ${await agents.defaultModel()}. Change it with /model <name>.`))
  const parsed = parseModel(ctx.match)
  if (!parsed.ok) return void (await ctx.reply(parsed.why.replace(', or tap "Default model"', '')))
  const before = await agents.setDefaultModel(parsed.value, personOf(ctx), ctx.chat.id)
  await ctx.reply(`The default model is now ${parsed.value} (was ${before}). Agents with a model of their own keep it.`)
}
