import type { CommandContext } from 'grammy'
import type { UsageLine } from '../../services/usage.ts'
import type { Context } from '../context.ts'
import { bold, code, html } from '../format/html.ts'
import type { Html } from '../format/html.ts'
import { splitHtml } from '../format/split.ts'

const DAYS = 30

const n = (x: number) => x.toLocaleString('en-US')

/** One agent and model's usage (with the person's id, for everyone's): the id and model as code. */
function usageLine(l: UsageLine, everyone: boolean): Html {
  const speech = l.audioSeconds ? `, ${n(Math.round(l.audioSeconds))} s of speech` : ''
  return html`${everyone ? html`${code(String(l.userId))} · ` : ''}${l.agent} · ${code(l.model)}: ${n(l.inputTokens)} in, ${n(l.outputTokens)} out, ${n(l.calls)} call(s)${speech}`
}

/** /usage as Telegram HTML: the totals in bold, then a line per agent and model (and person, for everyone's). Pure, for tests. */
export function usageText(lines: readonly UsageLine[], everyone: boolean): Html {
  if (lines.length === 0) return html`${everyone ? 'Nobody has' : 'You have not'} used a model in the last ${DAYS} days.`
  const input = lines.reduce((s, l) => s + l.inputTokens, 0)
  const output = lines.reduce((s, l) => s + l.outputTokens, 0)
  const calls = lines.reduce((s, l) => s + l.calls, 0)
  const head = html`${everyone ? "Everyone's" : 'Your'} usage, last ${DAYS} days: ${bold(`${n(input + output)} tokens`)} (${n(input)} in, ${n(output)} out) in ${bold(n(calls))} model call(s).`
  return html`${head}\n${lines.map((l) => html`\n${usageLine(l, everyone)}`)}`
}

/** Admins see everyone's; "/usage me" shows an admin their own. */
export async function usage(ctx: CommandContext<Context>): Promise<void> {
  if (!ctx.from) return
  const everyone = ctx.isAdmin && ctx.match.trim() !== 'me'
  const lines = await ctx.services.usage.lastDays(DAYS, everyone ? undefined : ctx.from.id)
  for (const part of splitHtml(usageText(lines, everyone).html)) await ctx.reply(part, { parse_mode: 'HTML' })
}
