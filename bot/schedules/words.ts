import { formatInZone } from '../../domain/schedule-time.ts'
import type { WhenHint } from '../../domain/schedule-time.ts'
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

/** Why a time phrase was not read, in one sentence with an example. */
export function whenHintText(h: WhenHint): string {
  switch (h.code) {
    case 'no_time':
      return h.recurring
        ? 'I found no schedule at the start; begin with one, for example "every weekday at 8:30 stand-up", "every 2 hours check the build" or "every monday at 10:00 plan the week".'
        : 'I found no time at the start; begin with one, for example "in 10 minutes stretch", "tomorrow 9:00 call mom" or "every weekday at 8:30 stand-up".'
    case 'two_times':
      return `I found two times, "${h.first}" and "${h.second}"; keep one, for example: ${h.first} …`
    case 'past':
      return `${formatInZone(h.at, h.timeZone)} has already passed; give a time in the future, for example: tomorrow 9:00 …`
    case 'no_hour':
      return `At what time ${h.phrase}? For example: ${h.example} …`
    case 'meridiem':
      return `Did you mean ${h.am} or ${h.pm}? Write the time as ${h.am} or ${h.pm}.`
    case 'interval_or_time':
      return `I can repeat ${h.every} counted from now, or at a fixed time such as every day at 09:00; write one of them, for example: ${h.every} …`
    case 'bad_cron':
      return `I could not read the cron expression "${h.pattern}"${h.why ? ` (${h.why})` : ''}; write five fields, minute hour day month weekday, for example: 30 8 * * 1-5 …`
    case 'cron_never':
      return `The cron expression "${h.pattern}" never fires; check the day and month, for example: 30 8 * * 1-5 …`
    case 'too_far':
      return 'That is too far apart; a schedule repeats at least once a year, for example: every 30 days …'
    case 'too_frequent':
      return `That repeats too often; the shortest gap allowed is ${h.minimum}, for example: ${h.example} …`
  }
}
