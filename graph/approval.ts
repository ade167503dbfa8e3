import { z } from 'zod'
import type { AgentTool, ApprovalKind } from '../agents/tools/tool.ts'

/** What the graph's interrupt carries: everything needed to ask a person. */
export interface ApprovalRequest {
  toolCallId: string
  type: ApprovalKind
  tool: string
  args: Record<string, unknown>
  description: string
  editableArg?: string | undefined
}

export const decisionSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('approve') }),
  z.object({ type: z.literal('reject'), message: z.string().max(2000) }),
  z.object({ type: z.literal('edit'), args: z.record(z.string(), z.unknown()) }),
])

/** A person's decision on an approval request: the only values a thread is ever resumed with. */
export type Decision = z.infer<typeof decisionSchema>

/** A decision that does not fit its request; the thread is left untouched. */
export class InvalidDecisionError extends Error {
  override name = 'InvalidDecisionError'
}

/**
 * Checks a decision against the request and the tool before it may resume a thread: a malformed
 * resume value is stored in the checkpoint and replayed, which breaks the thread for good.
 */
export function validateDecision(value: unknown, request: ApprovalRequest, tool: AgentTool | undefined): Decision {
  const parsed = decisionSchema.safeParse(value)
  if (!parsed.success) throw new InvalidDecisionError('not a decision')
  const decision = parsed.data
  if (decision.type === 'edit') {
    if (!request.editableArg) throw new InvalidDecisionError(`${request.tool} cannot be edited`)
    if (!tool?.schema.safeParse(decision.args).success) throw new InvalidDecisionError(`the edited arguments do not fit ${request.tool}`)
  }
  return decision
}
