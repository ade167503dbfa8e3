import { z } from 'zod'
import type { Logger } from '../logger.ts'
import { APPROVAL_EXPIRED } from './approvals.ts'
import type { Approvals } from './approvals.ts'
import { TASK_EVENT } from './tasks.ts'
import type { TaskReports } from './tasks.ts'
import { SCHEDULE_EVENT } from './schedules.ts'
import type { ScheduleFirings } from './schedules.ts'

const eventSchema = z.object({
  event: z.discriminatedUnion('type', [
    z.object({ type: z.literal(APPROVAL_EXPIRED), approvalId: z.string().max(64) }),
    z.object({ type: z.literal(TASK_EVENT), taskId: z.string().max(64) }),
    z.object({ type: z.literal(SCHEDULE_EVENT), scheduleId: z.string().max(64), dueAt: z.iso.datetime() }),
  ]),
})

/**
 * Handles the events Mechanic queues for itself in a chat's inbox lane (an approval that expired, a
 * task that reached a state the chat must hear about), so they run in order with that chat's
 * updates, with the inbox's retries and leases.
 */
export function createEventHandler(deps: { approvals: Approvals; reports: TaskReports; schedules: ScheduleFirings; log: Logger }) {
  const handle = async (payload: unknown, updateId: number): Promise<void> => {
    const parsed = eventSchema.safeParse(payload)
    if (!parsed.success) {
      deps.log.error({ payload }, 'unknown internal event; skipped')
      return
    }
    const { event } = parsed.data
    if (event.type === TASK_EVENT) return deps.reports.report(event.taskId)
    if (event.type === SCHEDULE_EVENT) return deps.schedules.fire(event.scheduleId, new Date(event.dueAt), `schedule:${updateId}`)
    return deps.approvals.settleExpired(event.approvalId)
  }
  /** An event that failed for good: a schedule's firing is marked failed (its /schedules line says so). */
  const gaveUp = async (payload: unknown, error: string): Promise<void> => {
    const parsed = eventSchema.safeParse(payload)
    if (parsed.success && parsed.data.event.type === SCHEDULE_EVENT) await deps.schedules.failed(parsed.data.event.scheduleId, new Date(parsed.data.event.dueAt), error)
  }
  return { handle, gaveUp }
}
