import { z } from 'zod'
import { defineTool } from './tools/tool.ts'
import type { AgentTool, ToolContext } from './tools/tool.ts'

/** A schedule as the agent's tools see it. */
export interface ScheduleSummary {
  id: string
  kind: 'reminder' | 'job'
  body: string
  /** "once", "every weekday at 08:30", … */
  recurrence: string
  /** The next firing, in the person's zone, or undefined (paused, or done). */
  next: string | undefined
  paused: boolean
}

/** What the schedule tools need of the schedules service (a port: agents/ does not import services/). */
export interface ScheduleBook {
  /** Makes a schedule from a phrase ("in 1 hour check the oven"); a refusal carries one sentence with an example. */
  createForTool(context: ToolContext, kind: 'reminder' | 'job', phrase: string): Promise<{ ok: true; summary: ScheduleSummary } | { ok: false; why: string }>
  listForTool(context: ToolContext): Promise<ScheduleSummary[]>
  /** Deletes one of the chat's schedules the person may change. */
  cancelForTool(context: ToolContext, id: string): Promise<'deleted' | 'unknown' | 'not_allowed'>
}

const line = (s: ScheduleSummary) => `${s.id}: ${s.kind} "${s.body}", ${s.recurrence}, ${s.paused ? 'paused' : s.next ? `next ${s.next}` : 'done'}`

/**
 * The agents' schedule tools, so "remind me in an hour to …" works in plain conversation: make one
 * from the person's own phrase (the service parses it exactly as /remind does), list the chat's, and
 * delete one. None needs an approval: they act for the person who asked, in their chat only.
 */
export function scheduleTools(book: ScheduleBook): AgentTool[] {
  return [
    defineTool({
      name: 'schedule',
      description:
        'Schedule a reminder (a fixed text sent at its time) or a job (a prompt you will be asked at its time, whose answer is posted) in this chat. ' +
        'Pass the time phrase first, then the text, as the person would write /remind: "in 10 minutes stretch", "tomorrow 9:00 check the deploy", ' +
        '"every weekday at 8:30 summarise the repo". If the result says the phrase is ambiguous, ask the person instead of guessing.',
      schema: z.object({ kind: z.enum(['reminder', 'job']), phrase: z.string().trim().min(3).max(2000) }),
      run: async ({ kind, phrase }, context) => {
        const made = await book.createForTool(context, kind, phrase)
        return made.ok ? `Scheduled ${line(made.summary)}. Tell the person the exact time.` : `Not scheduled: ${made.why}`
      },
    }),
    defineTool({
      name: 'list_schedules',
      description: "List this chat's reminders and scheduled jobs with their ids and next times.",
      schema: z.object({}),
      run: async (_args, context) => {
        const all = await book.listForTool(context)
        return all.length ? all.map(line).join('\n') : 'This chat has no schedules.'
      },
    }),
    defineTool({
      name: 'cancel_schedule',
      description: 'Delete one of the schedules of this chat by its id (from list_schedules).',
      schema: z.object({ id: z.string().trim().regex(/^[A-Za-z0-9_-]{12}$/) }),
      run: async ({ id }, context) => {
        const done = await book.cancelForTool(context, id)
        return done === 'deleted' ? `Deleted schedule ${id}.` : done === 'unknown' ? `There is no schedule ${id} in this chat.` : `Only the person who made ${id}, or an admin, may delete it.`
      },
    }),
  ]
}
