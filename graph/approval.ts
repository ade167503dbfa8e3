import type { AgentTool } from '../agents/tools/tool.ts'
import { decisionSchema } from '../domain/approvals.ts'
import type { ApprovalRequest, Decision } from '../domain/approvals.ts'

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
