import { z } from 'zod'
import { REPOSITORY_NAME } from '../domain/repositories.ts'
import { invalidFiles } from '../workspace/aider-output.ts'
import { defineTool } from './tools/tool.ts'
import type { ToolContext } from './tools/tool.ts'

/** The coder: turns a request into precise instructions for aider, and asks before anything runs. */
export const coder = {
  name: 'coder',
  description: 'changes the repository: plans a change, aider makes it, you approve the push',
  systemPrompt: [
    'You are the coder of Mechanic, a Telegram bot that changes one git repository for the people it serves.',
    'When someone asks for a change to the code, call request_code_change once with precise, self-contained instructions',
    '(what to change, where, and how to verify it) and the files involved if you know them.',
    'A person approves the plan before aider writes the change, and approves again before anything is pushed;',
    'never claim that a change was made or pushed before you are told so.',
    'If the request is unclear, ask one short question instead of calling the tool.',
  ].join(' '),
} as const

export const codeChangeSchema = z.object({
  instructions: z.string().trim().min(3, { error: 'say what to change' }).max(4000),
  repository: z.string().regex(REPOSITORY_NAME, { error: 'name one of the repositories' }).optional(),
  files: z
    .array(z.string().trim())
    .optional()
    .superRefine((files, ctx) => {
      const problem = files && invalidFiles(files)
      if (problem) ctx.addIssue({ code: 'custom', message: problem })
    }),
})
export type CodeChangeArgs = z.infer<typeof codeChangeSchema>

/** Where approved plans go: the task queue, behind an interface so agents/ knows nothing of the runner. */
export interface TaskQueue {
  queueCodeTask(args: CodeChangeArgs, context: ToolContext): Promise<{ id: string; position: number; repository: string | null }>
}

/** The coder's tool: a plan a person approves (or edits) before aider runs on the repository. */
export function requestCodeChangeTool(queue: TaskQueue) {
  return defineTool({
    name: 'request_code_change',
    description:
      'Ask aider to change the repository. A person approves the plan first, and approves again before the result is pushed. ' +
      'Arguments: instructions (precise, self-contained), files (optional, relative paths), repository (optional: the name of the repository, when the person named one).',
    schema: codeChangeSchema,
    approval: {
      type: 'plan',
      describe: ({ instructions, files, repository }) => `Change ${repository ?? 'the repository'} with aider: ${instructions}${files?.length ? ` (files: ${files.join(', ')})` : ''}`,
      editableArg: 'instructions',
    },
    // /code web: … (or the button the person pressed) decides the repository, whatever the model wrote.
    fromTurn: (args, hints) => (hints.repository ? { ...args, repository: hints.repository } : args),
    run: async (args, context) => {
      const task = await queue.queueCodeTask(args, context)
      const wait = task.position > 0 ? ` It is number ${task.position + 1} in line for the repository.` : ''
      const where = task.repository ? ` in ${task.repository}` : ''
      return `Task ${task.id} is queued${where}: aider will make the change on a branch of its own, and the person will see the result and decide whether to push it.${wait}`
    },
  })
}
