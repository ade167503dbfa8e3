import type { CommandContext } from 'grammy'
import type { StatusFigures } from '../../services/status.ts'
import type { Context } from '../context.ts'

function formatDuration(seconds: number): string {
  const d = Math.floor(seconds / 86400)
  const h = Math.floor((seconds % 86400) / 3600)
  const m = Math.floor((seconds % 3600) / 60)
  return [d && `${d}d`, h && `${h}h`, `${m}m`].filter(Boolean).join(' ')
}

/** /status as text. Pure, for tests. */
export function statusText(f: StatusFigures): string {
  const { inbox, dispatcher, tasks } = f
  return [
    `Mechanic ${f.version}${f.commit ? ` (${f.commit.slice(0, 12)})` : ''}`,
    `Uptime: ${formatDuration(f.uptimeSeconds)}`,
    `Database: ${f.database.kind}, ${f.database.pingMs.toFixed(1)} ms`,
    `Inbox: ${inbox.depth} waiting (${inbox.running} running)${inbox.oldestQueuedSeconds !== null ? `, oldest ${Math.round(inbox.oldestQueuedSeconds)} s` : ''}`,
    `Failed updates (24 h): ${inbox.failedLastDay}`,
    `Dispatcher: ${dispatcher.healthy ? 'ok' : 'NOT OK'}, ${dispatcher.active} handler(s) active`,
    `Tasks: ${tasks.queued} queued, ${tasks.running} running, ${tasks.waiting} waiting for review, ${tasks.failed} failed in total`,
    `Approvals pending: ${f.approvalsPending}`,
    `Model: ${f.model}, ${f.modelFailuresLastHour} failed call(s) in the last hour`,
  ].join('\n')
}

export async function status(ctx: CommandContext<Context>): Promise<void> {
  await ctx.reply(statusText(await ctx.services.status.figures()))
}
