import type { CommandContext } from 'grammy'
import { InputFile } from 'grammy'
import type { UsageLine, UsageReport } from '../../services/usage.ts'
import type { Context } from '../context.ts'
import { bold, code, html } from '../format/html.ts'
import type { Html } from '../format/html.ts'
import { splitHtml } from '../format/split.ts'
import { usd } from '../model-errors.ts'
import { spendChart } from '../usage/chart.ts'

const DAYS = 30

const n = (x: number) => x.toLocaleString('en-US')
const sum = (lines: readonly UsageLine[], f: (l: UsageLine) => number) => lines.reduce((s, l) => s + f(l), 0)

/** One agent and model's spend and tokens (with the person's id, for everyone's): the id and model as code. */
function usageLine(l: UsageLine, everyone: boolean): Html {
  const speech = l.audioSeconds ? `, ${n(Math.round(l.audioSeconds))} s of speech` : ''
  const unknown = l.unknownCalls ? `, ${n(l.unknownCalls)} of unknown cost` : ''
  return html`${everyone ? html`${code(String(l.userId))} · ` : ''}${l.agent} · ${code(l.model)}: ${usd(l.last30)} (today ${usd(l.today)}, this month ${usd(l.month)}) · ${n(l.inputTokens)} in, ${n(l.outputTokens)} out, ${n(l.calls)} call(s)${speech}${unknown}`
}

/**
 * /usage as Telegram HTML: spend today, this month and in the last 30 days in bold, the tokens, what
 * had no price, then a line per agent and model (and person, for everyone's), and for admins the
 * coder's tasks by cost. Pure, for tests.
 */
export function usageText(report: Pick<UsageReport, 'lines' | 'tasks' | 'timeZone'>, everyone: boolean): Html {
  const { lines } = report
  if (lines.length === 0) return html`${everyone ? 'Nobody has' : 'You have not'} used a model in the last ${DAYS} days.`
  const calls = sum(lines, (l) => l.calls)
  const unknown = sum(lines, (l) => l.unknownCalls)
  const head = html`${everyone ? "Everyone's" : 'Your'} spend: today ${bold(usd(sum(lines, (l) => l.today)))} · this month ${bold(usd(sum(lines, (l) => l.month)))} · last ${DAYS} days ${bold(usd(sum(lines, (l) => l.last30)))} (days in ${report.timeZone}).
${n(sum(lines, (l) => l.inputTokens) + sum(lines, (l) => l.outputTokens))} tokens (${n(sum(lines, (l) => l.inputTokens))} in, ${n(sum(lines, (l) => l.outputTokens))} out) in ${n(calls)} model call(s).`
  const unpriced = unknown ? html`\n${n(unknown)} call(s) had no known price: they are not in these sums.` : ''
  const tasks = report.tasks?.length ? html`\n\nCoder tasks, last ${DAYS} days:${report.tasks.map((t) => html`\n${code(t.taskId)}: ${usd(t.usd)} in ${n(t.calls)} call(s)${t.unknownCalls ? `, ${n(t.unknownCalls)} of unknown cost` : ''}`)}` : ''
  return html`${head}${unpriced}\n${lines.map((l) => html`\n${usageLine(l, everyone)}`)}${tasks}`
}

/** /usage: this person's spend (admins: everyone's, and per task; "/usage me" for their own), with a chart of the last 30 days. */
export async function usage(ctx: CommandContext<Context>): Promise<void> {
  if (!ctx.from) return
  const everyone = ctx.isAdmin && ctx.match.trim() !== 'me'
  const timeZone = await ctx.services.schedules.timeZoneOf(ctx.from.id)
  const report = await ctx.services.usage.report({ userId: everyone ? undefined : ctx.from.id, timeZone })
  for (const part of splitHtml(usageText(report, everyone).html)) await ctx.reply(part, { parse_mode: 'HTML' })
  if (!report.lines.length) return
  const png = await spendChart(report.daily, `${everyone ? "Everyone's" : 'Your'} spend per day, last ${DAYS} days (US dollars, ${timeZone})`)
  await ctx.replyWithPhoto(new InputFile(png, 'spend.png'))
}
