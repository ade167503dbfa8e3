import { renderMarkdown } from './markdown.ts'
import { firstPart, splitHtml } from './split.ts'

/** An agent's answer as the chat sees it: which agent wrote it, then the model's Markdown rendered as Telegram HTML. */
export const answerHtml = (agent: string | undefined, markdown: string): string => {
  const body = renderMarkdown(markdown)
  // Agent names are [a-z0-9_-]: nothing in the label needs escaping.
  return agent ? `[${agent}] ${body}` : body
}

/** An answer in messages Telegram accepts, each well-formed on its own. */
export const answerParts = (agent: string | undefined, markdown: string): string[] => splitHtml(answerHtml(agent, markdown))

/** The answer so far, for a draft or a preview: its first message's worth (half-written Markdown renders too). */
export const answerPreview = (agent: string | undefined, markdownSoFar: string): string => firstPart(answerHtml(agent, markdownSoFar))
