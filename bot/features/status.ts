import { Composer } from 'grammy'
import { stats } from '../../db/inbox.ts'
import { taskCounts } from '../../db/tasks.ts'
import type { Context } from '../context.ts'

const composer = new Composer<Context>()

function formatDuration(seconds: number): string {
  const d = Math.floor(seconds / 86400)
  const h = Math.floor((seconds % 86400) / 3600)
  const m = Math.floor((seconds % 3600) / 60)
  return [d && `${d}d`, h && `${h}h`, `${m}m`].filter(Boolean).join(' ')
}

composer.command('status', async (ctx) => {
  if (!ctx.isAdmin) {
    await ctx.reply('That command is for admins only.')
    return
  }
  const { db, startedAt, version, dispatcherStatus } = ctx.services
  const t0 = performance.now()
  await db.pool.query('select 1')
  const dbMs = performance.now() - t0
  const inbox = await stats(db.pool)
  const dispatcher = dispatcherStatus()
  const tasks = await taskCounts(db.pool)
  await ctx.reply(
    [
      `Mechanic ${version}`,
      `Uptime: ${formatDuration((Date.now() - startedAt.getTime()) / 1000)}`,
      `Database: ${db.kind}, ${dbMs.toFixed(1)} ms`,
      `Inbox: ${inbox.depth} waiting (${inbox.running} running)${inbox.oldestQueuedSeconds !== null ? `, oldest ${Math.round(inbox.oldestQueuedSeconds)} s` : ''}`,
      `Failed updates (24 h): ${inbox.failedLastDay}`,
      `Dispatcher: ${dispatcher.healthy ? 'ok' : 'NOT OK'}, ${dispatcher.active} handler(s) active`,
      `Tasks: ${tasks.queued} queued, ${tasks.running} running, ${tasks.waiting} waiting for review, ${tasks.failed} failed in total`,
    ].join('\n'),
  )
})

export { composer as statusFeature }
