import { z } from 'zod'
import { getApproval } from '../db/approvals.ts'
import { TASK_EVENT } from '../db/tasks.ts'
import { reportTask } from './tasks/report.ts'
import { settle } from './approvals/flow.ts'
import type { FlowDeps } from './approvals/flow.ts'

const eventSchema = z.object({
  event: z.discriminatedUnion('type', [
    z.object({ type: z.literal('approval_expired'), approvalId: z.string() }),
    z.object({ type: z.literal(TASK_EVENT), taskId: z.string() }),
  ]),
})

/**
 * Handles the events Mechanic queues for itself in a chat's lane (an approval that expired, a task
 * that reached a state the chat must hear about), so they
 * run in order with that chat's updates, with the inbox's retries and leases.
 */
export function createEventHandler(deps: FlowDeps) {
  return async (payload: unknown): Promise<void> => {
    const parsed = eventSchema.safeParse(payload)
    if (!parsed.success) {
      deps.log.error({ payload }, 'unknown internal event; skipped')
      return
    }
    const { event } = parsed.data
    if (event.type === TASK_EVENT) return reportTask(deps, event.taskId)
    const row = await getApproval(deps.db.pool, event.approvalId)
    if (!row || row.resumedAt) return
    await settle(deps, row, undefined)
  }
}
