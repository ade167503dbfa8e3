import { appendFile } from 'node:fs/promises'
import { z } from 'zod'
import { defineTool } from './tool.ts'

/**
 * A deliberately risky tool for testing approvals end to end (enabled only by TEST_TOOL_FILE): it
 * appends a line to one file, so a test can see exactly whether and with what text it ran.
 */
export function appendToFileTool(path: string) {
  return defineTool({
    name: 'append_to_file',
    description: 'Append one line of text to the notes file. Needs a person to approve it.',
    schema: z.object({ text: z.string().min(1).max(2000) }),
    approval: {
      type: 'tool',
      describe: ({ text }) => `Append a line to the notes file: "${text}"`,
      editableArg: 'text',
    },
    run: async ({ text }) => {
      await appendFile(path, `${text}\n`)
      return `Appended: ${text}`
    },
  })
}
