import { describe, expect, test } from 'vitest'
import { scheduleHtml } from '../../../bot/features/schedules.ts'
import { jobHeader, lateness, reminderHtml } from '../../../bot/schedules/words.ts'
import type { ScheduleRow } from '../../../services/schedules.ts'
import { parseTelegramHtml } from '../../support/telegram-html.ts'

const shown = (html: string) => {
  const parsed = parseTelegramHtml(html, { strict: true })
  if ('error' in parsed) throw new Error(parsed.error)
  return parsed.text
}

describe('what a schedule says', () => {
  test('lateness in words', () => {
    expect([1, 59, 89, 120, 35 * 60, 50 * 60].map((m) => lateness(m * 60_000))).toEqual(['1 minute', '59 minutes', '89 minutes', '2 hours', '35 hours', '2 days'])
  })

  test('a late reminder says how late; text is escaped', () => {
    expect(shown(reminderHtml({ text: 'a < b & "c"', ownerName: 'Ada', lateMs: 3 * 3600_000 }).html)).toBe('⏰ Reminder for Ada: a < b & "c"\n(3 hours late)')
    expect(shown(jobHeader({ prompt: 'sum <up>', missingAgent: 'poet' }).html)).toBe("⏰ Scheduled: sum <up>\n(the agent poet no longer exists; the chat's agent answered)")
  })

  test('/schedules shows rhythm, next time in the zone, the maker and a failed firing', () => {
    const row: ScheduleRow = {
      id: 'abcdefghijkl', chatId: 1, topicId: null, ownerId: 2, ownerName: 'Ada', kind: 'job', body: 'report <now>', agent: 'coder', timeZone: 'Europe/Berlin',
      recurrence: { kind: 'cron', pattern: '30 8 * * 1-5' }, nextRunAt: new Date('2026-12-01T07:30:00Z'), paused: false, createdAt: new Date(), firedCount: 3,
      lastDueAt: new Date('2026-11-30T07:30:00Z'), lastSentAt: null, lastMessageId: null, lastOutcome: 'failed', lastError: 'Bad Request: chat not found',
    }
    const text = shown(scheduleHtml(row).html)
    expect(text).toMatch(/^Job abcdefghijkl for coder: report <now>\n/)
    expect(text).toMatch(/; next Tue 1 Dec 2026, 08:30 \(Europe\/Berlin\)\nMade by Ada\nLast firing failed \(due Mon 30 Nov 2026, 08:30 \(Europe\/Berlin\)\): the message could not be delivered\. An admin finds why in the log\.$/)
    // The raw error stays in the log, never in the chat.
    expect(text).not.toContain('chat not found')
  })
})
