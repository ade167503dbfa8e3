import { Composer } from 'grammy'
import type { BotCommand } from 'grammy/types'
import type { CommandContext } from 'grammy'
import type { Context } from './context.ts'

/** Who may run a command: everyone served, admins only, everyone when the coder is set up, or admins when it is. */
export type CommandScope = 'everyone' | 'admins' | 'coder' | 'coder-admins'

/** One command, declared once: the menus, /help and the gates are derived from it. */
export interface CommandSpec {
  name: string
  /** What follows the command in /help, e.g. `<name>`. */
  args?: string
  /** One line for the menu and for /help. */
  summary: string
  scope: CommandScope
  /** Left out of the menus and /help (e.g. /start). */
  hidden?: boolean
  handler: (ctx: CommandContext<Context>) => Promise<unknown>
}

export const NOT_ADMIN = 'That command is for admins only.'
export const NO_CODER = 'The coder is not set up on this bot: its operator has to set GIT_REMOTE_URL (see the README).'

/**
 * The commands as middleware, each behind its scope's gate: an admin command refuses a non-admin
 * (audited) before its handler is reached; a coder command says the coder is off when it is.
 */
export function commandsComposer(table: readonly CommandSpec[]): Composer<Context> {
  const composer = new Composer<Context>()
  for (const spec of table) {
    composer.command(spec.name, async (ctx) => {
      if ((spec.scope === 'admins' || spec.scope === 'coder-admins') && !ctx.isAdmin) {
        ctx.log.warn({ command: spec.name }, 'admin command refused')
        await ctx.services.access.adminCommandRefused(ctx.from?.id, ctx.chat.id, spec.name)
        return void (await ctx.reply(NOT_ADMIN))
      }
      if ((spec.scope === 'coder' || spec.scope === 'coder-admins') && !ctx.services.coderEnabled) return void (await ctx.reply(NO_CODER))
      await spec.handler(ctx)
    })
  }
  return composer
}

const visible = (table: readonly CommandSpec[], scopes: readonly CommandScope[]) => table.filter((c) => !c.hidden && scopes.includes(c.scope))

/** The command menus: everyone's, and the admins' (their private chats) with the admin commands added. */
export function commandMenus(table: readonly CommandSpec[], coderEnabled: boolean): { everyone: BotCommand[]; admins: BotCommand[] } {
  const common = visible(table, coderEnabled ? ['everyone', 'coder'] : ['everyone']).map((c) => ({ command: c.name, description: c.summary }))
  const admin = visible(table, coderEnabled ? ['admins', 'coder-admins'] : ['admins']).map((c) => ({ command: c.name, description: `${c.summary} (admin)` }))
  return { everyone: common, admins: [...common, ...admin] }
}

const helpLine = (c: CommandSpec) => `/${c.name}${c.args ? ` ${c.args}` : ''} - ${c.summary[0]?.toLowerCase()}${c.summary.slice(1)}`

const INTRO = [
  'I am Mechanic, your own agent on Telegram.',
  '',
  'Just write to me and I will answer; I remember our conversation.',
  'When I want to do something risky, I ask first: press Approve, Reject or Edit.',
  'Start a message with @name to ask one agent; in a group, mention me or reply to me.',
]

/** /help, from the table: what this person may run here. */
export function helpText(table: readonly CommandSpec[], o: { isAdmin: boolean; coderEnabled: boolean }): string {
  const sections = [[...INTRO, ...visible(table, ['everyone']).map(helpLine)]]
  if (o.coderEnabled) sections.push(['Coding:', ...visible(table, ['coder']).map(helpLine)])
  if (o.isAdmin) sections.push(['Admin:', ...visible(table, o.coderEnabled ? ['admins', 'coder-admins'] : ['admins']).map(helpLine)])
  return sections.map((s) => s.join('\n')).join('\n\n')
}
