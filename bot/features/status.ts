import { Composer } from 'grammy'
import { countPending } from '../../db/approvals.ts'
import { stats } from '../../db/inbox.ts'
import { taskCounts } from '../../db/tasks.ts'
import { modelErrorsSince } from '../../db/usage.ts'
import type { Context } from '../context.ts'

const composer = new Composer<Context>()

function formatDuration(seconds: number): string {
  const d = Math.floor(seconds / 86400)
  const h = Math.floor((seconds % 86400) / 3600)
  const m = Math.floor((seconds % 3600) / 60)
  return [d && `${d}d`, h && `${h}h`, `${m}m`].filter(Boolean).join(' ')
}

// Admins only: the gate is in admin.ts.
composer.command('status', async (ctx) => {
  const { db, startedAt, version, commit, dispatcherStatus, agents } = ctx.services
  const t0 = performance.now()
  await db.pool.query('select 1')
  const dbMs = performance.now() - t0
  const inbox = await stats(db.pool)
  const dispatcher = dispatcherStatus()
  const tasks = await taskCounts(db.pool)
  const approvals = await countPending(db.pool)
  const modelErrors = await modelErrorsSince(db.pool, new Date(Date.now() - 3600_000))
  await ctx.reply(
    [
      `Mechanic ${version}${commit ? ` (${commit.slice(0, 12)})` : ''}`,
      `Uptime: ${formatDuration((Date.now() - startedAt.getTime()) / 1000)}`,
      `Database: ${db.kind}, ${dbMs.toFixed(1)} ms`,
      `Inbox: ${inbox.depth} waiting (${inbox.running} running)${inbox.oldestQueuedSeconds !== null ? `, oldest ${Math.round(inbox.oldestQueuedSeconds)} s` : ''}`,
      `Failed updates (24 h): ${inbox.failedLastDay}`,
      `Dispatcher: ${dispatcher.healthy ? 'ok' : 'NOT OK'}, ${dispatcher.active} handler(s) active`,
      `Tasks: ${tasks.queued} queued, ${tasks.running} running, ${tasks.waiting} waiting for review, ${tasks.failed} failed in total`,
      `Approvals pending: ${approvals}`,
      `Model: ${await agents.defaultModel()}, ${modelErrors} failed call(s) in the last hour`,
    ].join('\n'),
  )
})

export { composer as statusFeature }
