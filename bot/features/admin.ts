import type { CommandContext } from 'grammy'
import type { UserListing } from '../../services/access.ts'
import type { Context } from '../context.ts'
import { bold, code, html } from '../format/html.ts'
import type { Html } from '../format/html.ts'
import { splitHtml } from '../format/split.ts'
import { personOf } from '../people.ts'
import { parseModel } from './wizards.ts'

type Ctx = CommandContext<Context>

const HTML = { parse_mode: 'HTML' } as const

/** One person as /users lists them, as Telegram HTML: their id as code, their access in bold. Pure, for tests. */
export function userLine(u: UserListing, env: { admins: ReadonlySet<number>; allowed: ReadonlySet<number> }): Html {
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
  const seen = u.lastSeenAt ? ` · seen ${u.lastSeenAt.toISOString().slice(0, 16).replace('T', ' ')}` : ''
  return html`${code(String(u.telegramId))} · ${name} · ${bold(access)}${seen}`
}

/** The numeric Telegram id after /allow or /deny, or undefined. */
export function parseUserId(text: string): number | undefined {
  const t = text.trim()
  if (!/^\d{1,15}$/.test(t)) return undefined
  const id = Number(t)
  return id > 0 ? id : undefined
}

/** /users: everyone who wrote, with their access (in as many messages as it takes). */
export async function users(ctx: Ctx): Promise<void> {
  const { access } = ctx.services
  const list = await access.list()
  if (list.length === 0) return void (await ctx.reply('Nobody has written to me yet.'))
  const env = { admins: access.adminIds, allowed: access.allowedUserIds }
  const text = html`People I know (id · name · access):${list.map((u) => html`\n${userLine(u, env)}`)}`
  for (const part of splitHtml(text.html)) await ctx.reply(part, HTML)
}

/** /allow or /deny. */
export const changeAccess = (change: 'allow' | 'deny') => async (ctx: Ctx) => {
  const id = parseUserId(ctx.match)
  if (id === undefined) return void (await ctx.reply(`Send /${change} followed by the person's numeric Telegram id (they see it when I refuse them), e.g. /${change} 123456789.`))
  const done = await ctx.services.access.setAccess(id, change, ctx.from?.id, ctx.chat.id)
  const who = code(String(id))
  if (done === 'is_admin') return void (await ctx.reply(html`${who} is an admin (${code('TELEGRAM_ADMIN_IDS')}); admins cannot be denied.`.html, HTML))
  ctx.log.info({ target: id, access: change }, 'access changed')
  const text = change === 'allow' ? html`${who} ${bold('may now talk to me')}.` : html`${who} ${bold('is denied')} from now on, even if ${code('ALLOWED_USER_IDS')} lists them.`
  await ctx.reply(text.html, HTML)
}

/** /model: the default model, or a new one (model names as code). */
export async function model(ctx: Ctx): Promise<void> {
  const { agents } = ctx.services
  if (!ctx.match.trim()) return void (await ctx.reply(html`The default model is ${code(await agents.defaultModel())}. Change it with ${'/model <name>'}.`.html, HTML))
  const parsed = parseModel(ctx.match)
  if (!parsed.ok) return void (await ctx.reply(parsed.why.replace(', or tap "Default model"', '')))
  const before = await agents.setDefaultModel(parsed.value, personOf(ctx), ctx.chat.id)
  await ctx.reply(html`The default model is now ${code(parsed.value)} (was ${code(before)}). Agents with a model of their own keep it.`.html, HTML)
}
