import type { CommandContext } from 'grammy'
import { AGENT_NAME } from '../../domain/names.ts'
import type { BudgetPeriod, BudgetScope, Cap } from '../../services/budgets.ts'
import type { Context } from '../context.ts'
import { bold, code, html } from '../format/html.ts'
import type { Html } from '../format/html.ts'
import { splitHtml } from '../format/split.ts'
import { usd } from '../model-errors.ts'

const USAGE = [
  '/budget: the caps in force.',
  '/budget person <id> day|month <dollars|off>: one person\'s cap.',
  '/budget default day|month <dollars|off>: everyone\'s cap, unless they have their own.',
  '/budget agent <name|all> day|month <dollars|off>: an agent\'s cap, for everyone together.',
  '/budget task <dollars|off>: each coder task\'s cap (aider is stopped when it passes it).',
  'Amounts are US dollars, e.g. 2.50; periods run midnight to midnight in the person\'s time zone (agents: DEFAULT_TIMEZONE).',
].join('\n')

export type BudgetCommand =
  | { kind: 'list' }
  | { kind: 'set'; scope: BudgetScope; subject: string; period: BudgetPeriod; amountUsd: number }
  | { kind: 'clear'; scope: BudgetScope; subject: string; period: BudgetPeriod }
  | { kind: 'usage' }

/** Reads /budget's arguments. Pure, for tests. */
export function parseBudget(text: string): BudgetCommand {
  const words = text.trim().toLowerCase().split(/\s+/).filter(Boolean)
  if (!words.length) return { kind: 'list' }
  const amount = (word: string | undefined): { amountUsd: number } | 'off' | undefined => {
    if (word === 'off') return 'off'
    if (!word || !/^\$?\d{1,7}(\.\d{1,4})?$/.test(word)) return undefined
    return { amountUsd: Number(word.replace('$', '')) }
  }
  const period = (word: string | undefined): 'day' | 'month' | undefined => (word === 'day' || word === 'month' ? word : undefined)
  const done = (scope: BudgetScope, subject: string, p: BudgetPeriod | undefined, a: ReturnType<typeof amount>): BudgetCommand => {
    if (!p || !a) return { kind: 'usage' }
    return a === 'off' ? { kind: 'clear', scope, subject, period: p } : { kind: 'set', scope, subject, period: p, ...a }
  }
  const [what, ...rest] = words
  if (what === 'person' && rest.length === 3 && /^\d{1,15}$/.test(rest[0]!)) return done('person', rest[0]!, period(rest[1]), amount(rest[2]))
  if (what === 'default' && rest.length === 2) return done('person', '*', period(rest[0]), amount(rest[1]))
  if (what === 'agent' && rest.length === 3 && (rest[0] === 'all' || AGENT_NAME.test(rest[0]!))) return done('agent', rest[0] === 'all' ? '*' : rest[0]!, period(rest[1]), amount(rest[2]))
  if (what === 'task' && rest.length === 1) return done('task', '*', 'task', amount(rest[0]))
  return { kind: 'usage' }
}

/** Whose cap it is, in words. */
function capName(c: Pick<Cap, 'scope' | 'subject' | 'period'>): Html {
  const period = c.period === 'task' ? '' : c.period === 'day' ? ' daily' : ' monthly'
  if (c.scope === 'task') return html`each coder task`
  if (c.scope === 'agent') return c.subject === '*' ? html`every agent${period}` : html`agent ${code(c.subject)}${period}`
  return c.subject === '*' ? html`everyone${period}` : html`person ${code(c.subject)}${period}`
}

/** The caps in force, one per line. Pure, for tests. */
export function budgetsText(caps: readonly Cap[]): Html {
  if (!caps.length) return html`No budgets are set: nothing is capped. ${USAGE.split('\n').slice(1).join(' ')}`
  return html`Budgets in force:${caps.map((c) => html`\n${capName(c)}: ${bold(usd(c.amountUsd))}${c.from === 'environment' ? ' (from the environment)' : ''}`)}`
}

/** /budget: admins see and set the caps (audited). */
export async function budget(ctx: CommandContext<Context>): Promise<void> {
  const { budgets } = ctx.services
  const command = parseBudget(ctx.match)
  const by = ctx.from?.id ?? 0
  if (command.kind === 'usage') return void (await ctx.reply(USAGE))
  if (command.kind === 'list') {
    for (const part of splitHtml(budgetsText(await budgets.list()).html)) await ctx.reply(part, { parse_mode: 'HTML' })
    return
  }
  if (command.kind === 'set') {
    await budgets.set({ ...command, by })
    return void (await ctx.reply(html`The cap for ${capName(command)} is ${bold(usd(command.amountUsd))} from now on.`.html, { parse_mode: 'HTML' }))
  }
  const cleared = await budgets.clear({ ...command, by })
  await ctx.reply(cleared ? html`The cap for ${capName(command)} is cleared (the environment's default applies, if any).`.html : html`There was no cap for ${capName(command)} set with /budget.`.html, { parse_mode: 'HTML' })
}
