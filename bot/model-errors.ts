import { BudgetExceededError } from '../agents/model.ts'
import type { BudgetRefusal, ModelError } from '../agents/model.ts'
import { formatInZone } from '../domain/schedule-time.ts'

/** US dollars as people read them: cents, or four decimals below a cent. */
export const usd = (n: number) => `$${n >= 0.01 || n === 0 ? n.toFixed(2) : n.toFixed(4)}`

/** Whose budget it is and for which period, in words: "your daily budget", "the coder's monthly budget". */
function budgetName(b: Pick<BudgetRefusal, 'scope' | 'subject' | 'period'>): string {
  const period = { day: 'daily ', month: 'monthly ', task: '' }[b.period]
  return b.scope === 'person' ? `your ${period}budget` : b.scope === 'agent' ? `the ${b.subject} agent's ${period}budget` : `this task's budget`
}

/** When a spent budget starts again, or that it does not. */
function resetWords(b: Pick<BudgetRefusal, 'resetsAt' | 'timeZone'>): string {
  return b.resetsAt ? `It starts again on ${formatInZone(b.resetsAt, b.timeZone)}.` : 'It does not reset; an admin can raise it with /budget.'
}

/** A budget is spent: what was spent of how much, and when it starts again. Pure, for tests. */
export function budgetRefusalText(b: BudgetRefusal): string {
  const whose = budgetName(b)
  return `${usd(b.spentUsd)} of ${whose} of ${usd(b.capUsd)} is spent, so no model was asked. ${resetWords(b)}`
}

/** 80 % of a budget is spent (said once per period). Pure, for tests. */
export function budgetWarningText(b: BudgetRefusal): string {
  return `Heads-up: ${usd(b.spentUsd)} of ${budgetName(b)} of ${usd(b.capUsd)} is spent (${Math.round((100 * b.spentUsd) / b.capUsd)} %). When it is all spent, requests wait until it starts again. ${resetWords(b)}`
}

/** One plain sentence for the person in the chat. */
export function describeModelError(err: ModelError): string {
  if (err instanceof BudgetExceededError) return budgetRefusalText(err.refusal)
  switch (err.kind) {
    case 'over_budget':
      return 'A budget is spent, so no model was asked.'
    case 'timeout':
      return 'The model took too long to answer. Please try again in a minute.'
    case 'rate_limited':
      return 'The model provider is limiting requests right now. Please try again in a minute.'
    case 'bad_output':
      return 'The model sent an answer I could not read. Please try again.'
    case 'rejected':
      return 'The model provider refused the request. An admin should check the model name and API key.'
    case 'unavailable':
      return 'The model is not answering right now. Please try again in a minute.'
  }
}
