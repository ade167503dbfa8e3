import type { CommandContext } from 'grammy'
import type { StatusFigures } from '../../services/status.ts'
import type { Context } from '../context.ts'
import { bold, code, html } from '../format/html.ts'
import type { Html } from '../format/html.ts'
import { utcMinute } from '../format/time.ts'

const megabytes = (bytes: number) => `${(bytes / 1e6).toFixed(1)} MB`

function formatDuration(seconds: number): string {
  const d = Math.floor(seconds / 86400)
  const h = Math.floor((seconds % 86400) / 3600)
  const m = Math.floor((seconds % 3600) / 60)
  return [d && `${d}d`, h && `${h}h`, `${m}m`].filter(Boolean).join(' ')
}

/** /status as Telegram HTML: the commit and model as code, the health words in bold. Pure, for tests. */
export function statusText(f: StatusFigures): Html {
  const { inbox, dispatcher, tasks } = f
  const oldest = inbox.oldestQueuedSeconds !== null ? `, oldest ${Math.round(inbox.oldestQueuedSeconds)} s` : ''
  return html`${bold(`Mechanic ${f.version}`)}${f.commit ? html` (${code(f.commit.slice(0, 12))})` : ''}
Uptime: ${formatDuration(f.uptimeSeconds)}
Database: ${f.database.kind}, ${f.database.pingMs.toFixed(1)} ms
Inbox: ${inbox.depth} waiting (${inbox.running} running)${oldest}
Failed updates (24 h): ${inbox.failedLastDay}
Dispatcher: ${bold(dispatcher.healthy ? 'ok' : 'NOT OK')}, ${dispatcher.active} handler(s) active
Tasks: ${tasks.queued} queued, ${tasks.running} running, ${tasks.waiting} waiting for review, ${tasks.failed} failed in total
Approvals pending: ${f.approvalsPending}
Model: ${code(f.model)}, ${f.modelFailuresLastHour} failed call(s) in the last hour
Schedules: ${f.schedules.active} active, ${f.schedules.paused} paused, ${f.schedules.failing} whose last firing failed${f.schedules.next ? `; next at ${utcMinute(f.schedules.next)}` : ''}${
    f.workspace ? `\nWorkspace: clone ${megabytes(f.workspace.cloneBytes)}, ${f.workspace.worktrees} task worktree(s) ${megabytes(f.workspace.worktreeBytes)}` : ''
  }
Sandbox: ${sandboxLine(f.sandbox)}`
}

function sandboxLine(s: StatusFigures['sandbox']): Html {
  switch (s.state) {
    case 'on':
      return html`${bold('on')} (bubblewrap)`
    case 'off':
      return html`${bold('OFF')}: ${code('SANDBOX=off')}, so aider, test commands, MCP servers and the PDF reader run with this service's rights`
    case 'unavailable':
      return html`${bold('UNAVAILABLE')}: ${s.reason}; aider, test commands, MCP servers and PDF reading are refused`
  }
}

/** /status: the service's health in figures. */
export async function status(ctx: CommandContext<Context>): Promise<void> {
  await ctx.reply(statusText(await ctx.services.status.figures()).html, { parse_mode: 'HTML' })
}
