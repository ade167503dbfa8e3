import { z } from 'zod'
import type { ApprovalKind } from '../../domain/approvals.ts'

/** Where a tool runs: the conversation and the person, for tools that start work in their name. */
export interface ToolContext {
  threadId: string
  chatId: number
  userId: number
  /** The agent that called the tool. */
  agent: string
  /** Stable across retries of the same call: use it to make a tool's effect idempotent. */
  toolCallId: string
}

/** What the turn itself says, beyond the words: /code web: … names the repository. */
export interface TurnHints {
  repository?: string | undefined
}

/** Checks a call's arguments: a zod schema, or a JSON Schema validator for an MCP tool. */
export interface ArgsSchema<Args> {
  safeParse(value: unknown): { success: true; data: Args } | { success: false; error: { message: string } }
}

/** A tool an agent may call. With `approval`, it runs only after a person approves it. */
export interface AgentTool<Args extends Record<string, unknown> = Record<string, unknown>> {
  name: string
  description: string
  schema: ArgsSchema<Args>
  /** The arguments' JSON Schema, as the model is shown it. */
  parameters: Record<string, unknown>
  approval?: {
    type: ApprovalKind
    /** One plain sentence: what will happen if approved. */
    describe: (args: Args) => string
    /** The argument a person's Edit reply replaces; without it there is no Edit button. */
    editableArg?: keyof Args & string
    /** False: ask every time, never "Allow for this conversation" (default: a tool call may be allowed). */
    allowForConversation?: boolean | undefined
  }
  run: (args: Args, context: ToolContext) => Promise<string>
  /**
   * Arguments the turn supplies over what the model wrote, applied when the model calls the tool
   * (before any approval shows them): the person's explicit choice wins over the model's guess.
   */
  fromTurn?: ((args: Args, hints: TurnHints) => Args) | undefined
}

/** The tool in the OpenAI function-calling format that chat models bind. */
export function toFunctionDefinition(tool: AgentTool) {
  return { type: 'function' as const, function: { name: tool.name, description: tool.description, parameters: tool.parameters } }
}

/** Defines a tool with its argument types inferred from its zod schema (which also gives its JSON Schema). */
export function defineTool<S extends z.ZodType<Record<string, unknown>>>(tool: Omit<AgentTool<z.output<S>>, 'parameters'> & { schema: S }): AgentTool {
  return { ...tool, parameters: z.toJSONSchema(tool.schema) as Record<string, unknown> } as unknown as AgentTool
}
