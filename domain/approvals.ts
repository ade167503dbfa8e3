import { z } from 'zod'

/** What a person is asked to approve: a tool call, a coder's plan, or pushing a finished change. */
export type ApprovalKind = 'tool' | 'plan' | 'push'

export type ApprovalStatus = 'pending' | 'approved' | 'rejected' | 'timeout' | 'cancelled'

/** What the graph's interrupt carries: everything needed to ask a person. */
export interface ApprovalRequest {
  toolCallId: string
  type: ApprovalKind
  tool: string
  args: Record<string, unknown>
  description: string
  editableArg?: string | undefined
  /** False when the tool must ask every time: it cannot be allowed for a whole conversation. */
  conversationAllowance?: boolean | undefined
}

export const decisionSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('approve') }),
  z.object({ type: z.literal('reject'), message: z.string().max(2000) }),
  z.object({ type: z.literal('edit'), args: z.record(z.string(), z.unknown()) }),
])

/** A person's decision on an approval request: the only values a thread is ever resumed with. */
export type Decision = z.infer<typeof decisionSchema>
