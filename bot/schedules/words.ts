import { bold, html, italic } from '../format/html.ts'
import type { Html } from '../format/html.ts'

/** "12 minutes", "3 hours", "2 days": how late a firing is, roughly. */
export function lateness(ms: number): string {
  const minutes = Math.round(ms / 60_000)
  if (minutes < 90) return `${minutes} minute${minutes === 1 ? '' : 's'}`
  const hours = Math.round(minutes / 60)
  if (hours < 36) return `${hours} hours`
  return `${Math.round(hours / 24)} days`
}

const lateNote = (lateMs: number | undefined) => (lateMs ? html`\n${italic(`(${lateness(lateMs)} late)`)}` : '')

/** A reminder as the chat sees it. */
export function reminderHtml(r: { text: string; ownerName: string; lateMs?: number | undefined }): Html {
  return html`⏰ ${bold('Reminder')} for ${r.ownerName}: ${r.text}${lateNote(r.lateMs)}`
}

/** The line above a scheduled job's answer: which prompt it answers (and why another agent answered). */
export function jobHeader(j: { prompt: string; lateMs?: number | undefined; missingAgent?: string | undefined }): Html {
  const prompt = j.prompt.length > 200 ? `${j.prompt.slice(0, 199)}…` : j.prompt
  const fallback = j.missingAgent ? html`\n${italic(`(the agent ${j.missingAgent} no longer exists; the chat's agent answered)`)}` : ''
  return html`⏰ ${bold('Scheduled')}: ${italic(prompt)}${lateNote(j.lateMs)}${fallback}`
}
