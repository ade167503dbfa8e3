import type { CommandContext } from 'grammy'
import type { UsageLine } from '../../services/usage.ts'
import type { Context } from '../context.ts'

const DAYS = 30

const n = (x: number) => x.toLocaleString('en-US')

/** /usage as text: totals, then a line per agent and model (and person, for everyone's). Pure, for tests. */
export function usageText(lines: readonly UsageLine[], everyone: boolean): string {
  if (lines.length === 0) return `${everyone ? 'Nobody has' : 'You have not'} used a model in the last ${DAYS} days.`
  const input = lines.reduce((s, l) => s + l.inputTokens, 0)
  const output = lines.reduce((s, l) => s + l.outputTokens, 0)
  const calls = lines.reduce((s, l) => s + l.calls, 0)
  return [
    `${everyone ? "Everyone's" : 'Your'} usage, last ${DAYS} days: ${n(input + output)} tokens (${n(input)} in, ${n(output)} out) in ${n(calls)} model call(s).`,
    '',
    ...lines.map((l) => `${everyone ? `${l.userId} · ` : ''}${l.agent} · ${l.model}: ${n(l.inputTokens)} in, ${n(l.outputTokens)} out, ${n(l.calls)} call(s)${l.audioSeconds ? `, ${n(Math.round(l.audioSeconds))} s of speech` : ''}`),
  ].join('\n')
}

/** Admins see everyone's; "/usage me" shows an admin their own. */
export async function usage(ctx: CommandContext<Context>): Promise<void> {
  if (!ctx.from) return
  const everyone = ctx.isAdmin && ctx.match.trim() !== 'me'
  const lines = await ctx.services.usage.lastDays(DAYS, everyone ? undefined : ctx.from.id)
  await ctx.reply(usageText(lines, everyone))
}
