import { describe, expect, test } from 'vitest'
import { describeRecurrence, formatInZone, isValidTimeZone, nextRun, parseWhen } from '../../../domain/schedule-time.ts'
import type { Recurrence, WhenParse } from '../../../domain/schedule-time.ts'
import { whenHintText } from '../../../bot/schedules/words.ts'

/** Tuesday 1 Dec 2026: 10:00 UTC, 11:00 Berlin, 05:00 New York, 15:30 Kolkata. */
const NOW = '2026-12-01T10:00:00Z'

/** A reading as the person meets it: a failure's hint in the bot's words. */
type Said = Extract<WhenParse, { ok: true }> | (Omit<Extract<WhenParse, { ok: false }>, 'hint'> & { hint: string })

function parse(input: string, timeZone: string, { now = NOW, recurring = false, min = 60 } = {}): Said {
  const result = parseWhen(input, { now: new Date(now), timeZone, recurring, minIntervalSeconds: min })
  return result.ok ? result : { ...result, hint: whenHintText(result.hint) }
}

/** The success, or a failed test that shows the hint. */
function ok(result: Said) {
  if (!result.ok) throw new Error(`expected a schedule, got ${result.reason}: ${result.hint}`)
  return result
}

const onceAt = (result: Said) => {
  const { recurrence, firstRun } = ok(result)
  expect(recurrence.kind).toBe('once')
  expect(recurrence.kind === 'once' && recurrence.at).toEqual(firstRun)
  return firstRun.toISOString()
}

describe('parseWhen: one-off times for /remind, in the person’s zone', () => {
  test.each([
    ['in 10 minutes call mom', 'UTC', '2026-12-01T10:10:00.000Z', 'call mom'],
    ['in 10 minutes call mom', 'Asia/Kolkata', '2026-12-01T10:10:00.000Z', 'call mom'],
    ['in 2 seconds ping', 'America/New_York', '2026-12-01T10:00:02.000Z', 'ping'],
    ['tomorrow 9:00 standup', 'UTC', '2026-12-02T09:00:00.000Z', 'standup'],
    ['tomorrow 9:00 standup', 'Europe/Berlin', '2026-12-02T08:00:00.000Z', 'standup'],
    ['tomorrow 9:00 standup', 'America/New_York', '2026-12-02T14:00:00.000Z', 'standup'],
    ['tomorrow 9:00 standup', 'Asia/Kolkata', '2026-12-02T03:30:00.000Z', 'standup'],
    ['tomorrow at 9:00', 'Europe/Berlin', '2026-12-02T08:00:00.000Z', ''],
    ['on 3 Dec at 18:30 dinner with Anna', 'Europe/Berlin', '2026-12-03T17:30:00.000Z', 'dinner with Anna'],
    ['on 3 Dec at 18:30 dinner with Anna', 'Asia/Kolkata', '2026-12-03T13:00:00.000Z', 'dinner with Anna'],
    ['at 18:30 dinner', 'UTC', '2026-12-01T18:30:00.000Z', 'dinner'],
    ['at 18:30 dinner', 'America/New_York', '2026-12-01T23:30:00.000Z', 'dinner'],
    ['at 8pm: take out the bins', 'Europe/Berlin', '2026-12-01T19:00:00.000Z', 'take out the bins'],
    ['at 8:30am water plants', 'Asia/Kolkata', '2026-12-02T03:00:00.000Z', 'water plants'],
    ['next monday at 10:00 review the plan', 'Europe/Berlin', '2026-12-07T09:00:00.000Z', 'review the plan'],
    ['next monday at 10:00 review the plan', 'America/New_York', '2026-12-07T15:00:00.000Z', 'review the plan'],
    ['me at noon lunch', 'Europe/Berlin', '2026-12-01T11:00:00.000Z', 'lunch'],
  ])('%s in %s → %s, rest %j', (input, zone, at, rest) => {
    const result = parse(input, zone)
    expect(onceAt(result)).toBe(at)
    expect(ok(result).rest).toBe(rest)
  })

  test('the phrase is the words read as the time', () => {
    expect(ok(parse('on 3 Dec at 18:30 dinner', 'UTC')).phrase).toBe('on 3 Dec at 18:30')
    expect(ok(parse('in 10 minutes call mom', 'UTC')).phrase).toBe('in 10 minutes')
  })

  test('"tomorrow" is the person’s tomorrow, not the server’s', () => {
    // 22:00 on 30 Nov in New York, already 2 Dec in Kolkata.
    expect(onceAt(parse('tomorrow 9:00 x', 'America/New_York', { now: '2026-12-01T03:00:00Z' }))).toBe('2026-12-01T14:00:00.000Z')
    expect(onceAt(parse('tomorrow 9:00 x', 'Asia/Kolkata', { now: '2026-12-01T20:00:00Z' }))).toBe('2026-12-03T03:30:00.000Z')
  })

  test('a time of day already gone today means tomorrow', () => {
    // 11:00 in Berlin, so 09:00 is tomorrow's.
    expect(onceAt(parse('at 9:00 call', 'Europe/Berlin'))).toBe('2026-12-02T08:00:00.000Z')
  })

  test('a day name without "every" is a one-off in /remind', () => {
    expect(onceAt(parse('monday at 10:00 x', 'UTC'))).toBe('2026-12-07T10:00:00.000Z')
    expect(onceAt(parse('10 minutes x', 'UTC'))).toBe('2026-12-01T10:10:00.000Z')
  })

  test('a zone chrono finds in a lowercase word ("eat" = East Africa Time) stays in the text; one in capitals counts', () => {
    const eat = ok(parse('at 8pm eat dinner', 'Europe/Berlin'))
    expect([eat.firstRun.toISOString(), eat.phrase, eat.rest]).toEqual(['2026-12-01T19:00:00.000Z', 'at 8pm', 'eat dinner'])
    const est = ok(parse('at 9:00 EST call', 'Europe/Berlin'))
    expect([est.firstRun.toISOString(), est.phrase, est.rest]).toEqual(['2026-12-01T14:00:00.000Z', 'at 9:00 EST', 'call'])
    expect(ok(parse('every day at noon eat', 'UTC')).rest).toBe('eat')
  })

  test('a relative day keeps the current wall-clock time', () => {
    expect(onceAt(parse('in 2 days x', 'Europe/Berlin'))).toBe('2026-12-03T10:00:00.000Z')
  })
})

describe('parseWhen: recurring schedules', () => {
  test.each([
    ['every weekday at 8:30 standup', false, 'Europe/Berlin', { kind: 'cron', pattern: '30 8 * * 1-5' }, '2026-12-02T07:30:00.000Z', 'standup'],
    ['weekday at 08:30 standup', true, 'America/New_York', { kind: 'cron', pattern: '30 8 * * 1-5' }, '2026-12-01T13:30:00.000Z', 'standup'],
    ['every day at 20:00 journal', false, 'Asia/Kolkata', { kind: 'cron', pattern: '0 20 * * *' }, '2026-12-01T14:30:00.000Z', 'journal'],
    ['day at 9:00 news', true, 'UTC', { kind: 'cron', pattern: '0 9 * * *' }, '2026-12-02T09:00:00.000Z', 'news'],
    ['weekend at 10:00 long run', true, 'Europe/Berlin', { kind: 'cron', pattern: '0 10 * * 0,6' }, '2026-12-05T09:00:00.000Z', 'long run'],
    ['monday at 10:00 plan the week', true, 'Europe/Berlin', { kind: 'cron', pattern: '0 10 * * MON' }, '2026-12-07T09:00:00.000Z', 'plan the week'],
    ['every mon at 10am plan', false, 'UTC', { kind: 'cron', pattern: '0 10 * * MON' }, '2026-12-07T10:00:00.000Z', 'plan'],
    ['every sundays at 8pm call home', false, 'America/New_York', { kind: 'cron', pattern: '0 20 * * SUN' }, '2026-12-07T01:00:00.000Z', 'call home'],
    ['every day at noon eat', false, 'UTC', { kind: 'cron', pattern: '0 12 * * *' }, '2026-12-01T12:00:00.000Z', 'eat'],
    ['every hour stretch', false, 'UTC', { kind: 'interval', seconds: 3600 }, '2026-12-01T11:00:00.000Z', 'stretch'],
    ['2 hours check the build', true, 'Asia/Kolkata', { kind: 'interval', seconds: 7200 }, '2026-12-01T12:00:00.000Z', 'check the build'],
    ['every 90 minutes x', false, 'UTC', { kind: 'interval', seconds: 5400 }, '2026-12-01T11:30:00.000Z', 'x'],
    ['every 3 days x', false, 'UTC', { kind: 'interval', seconds: 259200 }, '2026-12-04T10:00:00.000Z', 'x'],
    ['every 2 weeks x', false, 'UTC', { kind: 'interval', seconds: 1209600 }, '2026-12-15T10:00:00.000Z', 'x'],
    ['every 120 seconds x', false, 'UTC', { kind: 'interval', seconds: 120 }, '2026-12-01T10:02:00.000Z', 'x'],
    ['every day x', false, 'UTC', { kind: 'interval', seconds: 86400 }, '2026-12-02T10:00:00.000Z', 'x'],
    ['30 8 * * 1-5 standup', false, 'Europe/Berlin', { kind: 'cron', pattern: '30 8 * * 1-5' }, '2026-12-02T07:30:00.000Z', 'standup'],
    ['cron 0 9 * * 1 weekly report', true, 'UTC', { kind: 'cron', pattern: '0 9 * * 1' }, '2026-12-07T09:00:00.000Z', 'weekly report'],
    ['every 0 9 * * MON-FRI x', false, 'UTC', { kind: 'cron', pattern: '0 9 * * MON-FRI' }, '2026-12-02T09:00:00.000Z', 'x'],
  ] as Array<[string, boolean, string, Recurrence, string, string]>)('%s (recurring: %s) in %s', (input, recurring, zone, recurrence, first, rest) => {
    const result = ok(parse(input, zone, { recurring }))
    expect(result.recurrence).toEqual(recurrence)
    expect(result.firstRun.toISOString()).toBe(first)
    expect(result.rest).toBe(rest)
  })

  test('the phrase keeps the word "every"', () => {
    expect(ok(parse('every weekday at 8:30 standup', 'UTC')).phrase).toBe('every weekday at 8:30')
  })

  test('/every refuses a one-off time', () => {
    expect(parse('tomorrow 9:00 x', 'UTC', { recurring: true })).toMatchObject({ ok: false, reason: 'no_time' })
  })
})

describe('parseWhen: DST', () => {
  test('"every day at 09:00" in Berlin is 08:00Z before the last Sunday of March 2027 and 07:00Z from it', () => {
    const { recurrence, firstRun } = ok(parse('every day at 09:00 x', 'Europe/Berlin', { now: '2027-03-26T12:00:00Z' }))
    expect(firstRun.toISOString()).toBe('2027-03-27T08:00:00.000Z')
    const second = nextRun(recurrence, firstRun, 'Europe/Berlin')!
    expect(second.toISOString()).toBe('2027-03-28T07:00:00.000Z')
    expect(nextRun(recurrence, second, 'Europe/Berlin')!.toISOString()).toBe('2027-03-29T07:00:00.000Z')
  })

  test('02:30 on 28 Mar does not exist in Berlin: croner moves it forward by the hour skipped, to 03:30 CEST', () => {
    expect(onceAt(parse('on 28 Mar at 02:30 x', 'Europe/Berlin', { now: '2027-03-01T12:00:00Z' }))).toBe('2027-03-28T01:30:00.000Z')
  })

  test('02:30 on 31 Oct happens twice in Berlin: croner takes the first, still CEST', () => {
    expect(onceAt(parse('on 31 Oct at 02:30 x', 'Europe/Berlin', { now: '2027-03-01T12:00:00Z' }))).toBe('2027-10-31T00:30:00.000Z')
  })

  // US clocks go forward on the second Sunday of March: 14 Mar 2027 (7 Mar 2027 is still EST).
  test('"every weekday at 08:30" in New York stays 08:30 across 14 Mar 2027', () => {
    const { recurrence, firstRun } = ok(parse('every weekday at 08:30 x', 'America/New_York', { now: '2027-03-05T12:00:00Z' }))
    expect(firstRun.toISOString()).toBe('2027-03-05T13:30:00.000Z')
    expect(nextRun(recurrence, firstRun, 'America/New_York')!.toISOString()).toBe('2027-03-08T13:30:00.000Z')
    expect(nextRun(recurrence, new Date('2027-03-12T14:00:00Z'), 'America/New_York')!.toISOString()).toBe('2027-03-15T12:30:00.000Z')
  })

  test('a one-off after the New York change uses the new offset, not the one at the time of asking', () => {
    expect(onceAt(parse('tomorrow 9:00 x', 'America/New_York', { now: '2027-03-13T15:00:00Z' }))).toBe('2027-03-14T13:00:00.000Z')
    expect(onceAt(parse('in 1 day x', 'America/New_York', { now: '2027-03-13T15:00:00Z' }))).toBe('2027-03-14T14:00:00.000Z')
  })

  test('"in 2 hours" across the New York change is two hours of elapsed time', () => {
    expect(onceAt(parse('in 2 hours x', 'America/New_York', { now: '2027-03-14T06:30:00Z' }))).toBe('2027-03-14T08:30:00.000Z')
  })

  test('a daily cron at 02:30 on the New York change day runs when the clock has jumped, at 03:00 EDT', () => {
    expect(ok(parse('every day at 2:30 x', 'America/New_York', { now: '2027-03-13T12:00:00Z' })).firstRun.toISOString()).toBe('2027-03-14T07:00:00.000Z')
  })
})

describe('parseWhen: asks back instead of guessing', () => {
  test.each([
    ['at 7 call mom', 'Did you mean 07:00 or 19:00? Write the time as 07:00 or 19:00.'],
    ['tomorrow at 9', 'Did you mean 09:00 or 21:00? Write the time as 09:00 or 21:00.'],
    ['at 12 lunch', 'Did you mean 00:00 or 12:00? Write the time as 00:00 or 12:00.'],
    ['on 3 Dec buy milk', 'At what time on 3 Dec? For example: on 3 Dec at 18:30 …'],
    ['tonight buy milk', 'At what time tonight? For example: tonight at 18:30 …'],
    ['tomorrow 9:00 or 10:00 x', 'I found two times, "tomorrow 9:00" and "10:00"; keep one, for example: tomorrow 9:00 …'],
    ['at 9:00 at 10:00 x', 'I found two times, "at 9:00" and "at 10:00"; keep one, for example: at 9:00 …'],
    ['every weekday at 8 standup', 'Did you mean 08:00 or 20:00? Write the time as 08:00 or 20:00.'],
    ['every monday plan', 'At what time every monday? For example: every monday at 08:30 …'],
  ])('%s', (input, hint) => {
    expect(parse(input, 'Europe/Berlin')).toEqual({ ok: false, reason: 'ambiguous', hint })
  })

  test('"every 2 days at 9:00" asks which of the two is meant', () => {
    expect(parse('every 2 days at 9:00 x', 'UTC')).toMatchObject({ ok: false, reason: 'ambiguous' })
  })

  test.each(['tomorrow 9:00 x', 'at 9:00 x', 'at 21 x', 'at 0 x', 'tomorrow at 7pm x'])('%s is clear', (input) => {
    expect(parse(input, 'Europe/Berlin').ok).toBe(true)
  })
})

describe('parseWhen: refusals', () => {
  test('a one-off in the past', () => {
    expect(parse('today at 8:00 x', 'Europe/Berlin')).toEqual({
      ok: false,
      reason: 'past',
      hint: 'Tue 1 Dec 2026, 08:00 (Europe/Berlin) has already passed; give a time in the future, for example: tomorrow 9:00 …',
    })
    expect(parse('on 3 Dec 2025 at 18:30 x', 'UTC')).toMatchObject({ ok: false, reason: 'past' })
  })

  test.each(['buy milk', '', 'call mom at 7pm', 'on 03.12. at 18:30 x'])('no time at the start: %j', (input) => {
    const result = parse(input, 'UTC')
    expect(result).toMatchObject({ ok: false, reason: 'no_time' })
    expect(!result.ok && result.hint).toContain('in 10 minutes')
  })

  test('"every" with nothing understood after it', () => {
    const result = parse('every month x', 'UTC')
    expect(result).toMatchObject({ ok: false, reason: 'no_time' })
    expect(!result.ok && result.hint).toContain('every weekday at 8:30')
  })

  test.each([
    ['every 30 seconds x', 60, 'the shortest gap allowed is 1 minute'],
    ['every 5 minutes x', 600, 'the shortest gap allowed is 10 minutes'],
    ['*/5 * * * * x', 600, 'the shortest gap allowed is 10 minutes'],
    // From 10:00 the next two runs are 09:00 and 09:01 tomorrow: a gap of one minute.
    ['0,1 9 * * * x', 300, 'the shortest gap allowed is 5 minutes'],
  ])('too frequent: %s with a minimum of %i s', (input, min, text) => {
    const result = parse(input, 'UTC', { min })
    expect(result).toMatchObject({ ok: false, reason: 'too_frequent' })
    expect(!result.ok && result.hint).toContain(text)
  })

  test.each([
    ['cron 61 * * * * x', 'Invalid value for minute: 61'],
    ['0 25 * * * x', 'Invalid value for hour: 25'],
    ['cron 0 9 * *', 'five fields'],
    ['0 0 31 2 * x', 'never fires'],
  ])('bad cron: %s', (input, text) => {
    const result = parse(input, 'UTC', { recurring: true })
    expect(result).toMatchObject({ ok: false, reason: 'bad_cron' })
    expect(!result.ok && result.hint).toContain(text)
  })

  test('an unknown zone is a programming error', () => {
    expect(() => parse('in 10 minutes x', 'Mars/Base')).toThrow(RangeError)
  })
})

describe('nextRun', () => {
  const at = new Date('2026-12-03T17:30:00Z')
  test('a one-off fires once, strictly after', () => {
    expect(nextRun({ kind: 'once', at }, new Date('2026-12-01T00:00:00Z'), 'UTC')).toEqual(at)
    expect(nextRun({ kind: 'once', at }, at, 'UTC')).toBeUndefined()
  })

  test('an interval counts from `after`', () => {
    expect(nextRun({ kind: 'interval', seconds: 7200 }, at, 'UTC')).toEqual(new Date('2026-12-03T19:30:00Z'))
  })

  test('a cron run exactly at `after` is not the next one', () => {
    expect(nextRun({ kind: 'cron', pattern: '30 18 * * *' }, at, 'Europe/Berlin')).toEqual(new Date('2026-12-04T17:30:00Z'))
  })
})

describe('describeRecurrence', () => {
  test.each([
    [{ kind: 'once', at: new Date(NOW) }, 'once'],
    [{ kind: 'cron', pattern: '30 8 * * 1-5' }, 'every weekday at 08:30'],
    [{ kind: 'cron', pattern: '0 9 * * *' }, 'every day at 09:00'],
    [{ kind: 'cron', pattern: '0 10 * * 0,6' }, 'every Saturday and Sunday at 10:00'],
    [{ kind: 'cron', pattern: '0 10 * * MON' }, 'every Monday at 10:00'],
    [{ kind: 'cron', pattern: '0 9 * * 1' }, 'cron 0 9 * * 1'],
    [{ kind: 'interval', seconds: 3600 }, 'every hour'],
    [{ kind: 'interval', seconds: 7200 }, 'every 2 hours'],
    [{ kind: 'interval', seconds: 90 }, 'every 90 seconds'],
    [{ kind: 'interval', seconds: 1209600 }, 'every 2 weeks'],
  ] as Array<[Recurrence, string]>)('%j → %s', (recurrence, text) => {
    expect(describeRecurrence(recurrence)).toBe(text)
  })
})

describe('formatInZone', () => {
  test('weekday, day, month, year and 24-hour time in the zone, with the zone named', () => {
    expect(formatInZone(new Date('2026-12-03T17:30:00Z'), 'Europe/Berlin')).toBe('Thu 3 Dec 2026, 18:30 (Europe/Berlin)')
    expect(formatInZone(new Date('2026-09-14T22:05:00Z'), 'Europe/Berlin')).toBe('Tue 15 Sep 2026, 00:05 (Europe/Berlin)')
    expect(formatInZone(new Date('2026-12-03T17:30:00Z'), 'Asia/Kolkata')).toBe('Thu 3 Dec 2026, 23:00 (Asia/Kolkata)')
  })
})

describe('isValidTimeZone', () => {
  test.each([['Europe/Berlin', true], ['UTC', true], ['America/New_York', true], ['Mars/Base', false], ['', false]])('%j → %s', (zone, valid) => {
    expect(isValidTimeZone(zone)).toBe(valid)
  })
})

describe('intervals a database can store', () => {
  test('an interval of thousands of years is refused with a sentence, not an invalid date', () => {
    expect(parse('every 9999999999 weeks ping', 'UTC')).toEqual({ ok: false, reason: 'no_time', hint: 'That is too far apart; a schedule repeats at least once a year, for example: every 30 days …' })
    expect(parseWhen('every 30 days ping', { now: new Date('2026-11-29T12:00:00Z'), timeZone: 'UTC', recurring: false, minIntervalSeconds: 60 })).toMatchObject({ ok: true, recurrence: { kind: 'interval', seconds: 30 * 86400 } })
  })
})
