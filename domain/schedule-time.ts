/**
 * What a person types after /remind or /every, turned into a schedule in their IANA time zone.
 * chrono-node reads the natural language, croner does cron and every wall clock → instant step
 * (DST included); Intl only validates zones and reads an instant's wall clock for chrono.
 */
import * as chrono from 'chrono-node'
import { Cron } from 'croner'

/** How a schedule repeats. */
export type Recurrence = { kind: 'once'; at: Date } | { kind: 'cron'; pattern: string } | { kind: 'interval'; seconds: number }

/**
 * Why a phrase was not read, with what a sentence for the person needs (the bot words it:
 * `bot/schedules/words.ts`; the agents' tool passes it on to the model).
 */
export type WhenHint =
  | { code: 'no_time'; recurring: boolean }
  | { code: 'two_times'; first: string; second: string }
  | { code: 'past'; at: Date; timeZone: string }
  | { code: 'no_hour'; phrase: string; example: string }
  | { code: 'meridiem'; am: string; pm: string }
  | { code: 'interval_or_time'; every: string }
  | { code: 'bad_cron'; pattern: string; why: string | undefined }
  | { code: 'cron_never'; pattern: string }
  | { code: 'too_far' }
  | { code: 'too_frequent'; minimum: string; example: string }

/** The outcome of reading a schedule from the start of a message; a failure says why, for the bot to word. */
export type WhenParse =
  | { ok: true; recurrence: Recurrence; rest: string; firstRun: Date; phrase: string }
  | { ok: false; reason: 'no_time' | 'ambiguous' | 'past' | 'too_frequent' | 'bad_cron'; hint: WhenHint }

type Failure = Extract<WhenParse, { ok: false }>
type Options = { now: Date; timeZone: string; recurring: boolean; minIntervalSeconds: number }
type ParsedTime = chrono.ParsedResult

const fail = (reason: Failure['reason'], hint: WhenHint): Failure => ({ ok: false, reason, hint })
const pad = (n: number) => String(n).padStart(2, '0')
const hhmm = (hour: number, minute: number) => `${pad(hour)}:${pad(minute)}`
// Anything but "at"/"on" before the time means the time is not at the start.
const LEAD = /^(?:(?:at|on)\s+)?$/i
// "/remind me tomorrow 9:00 …" reads naturally, so a leading "me" is allowed too.
const ONCE_LEAD = /^(?:me\s+)?(?:(?:at|on)\s+)?$/i
// What may separate two time phrases that both still count as "at the start".
const JOINER = /^[\s,;]*(?:(?:or|and|at|on|in|the)\b[\s,;]*)*$/i
const SEPARATORS = /^[\s,:;.!\-–—]+/
const UNITS: ReadonlyArray<readonly [number, string]> = [[604800, 'week'], [86400, 'day'], [3600, 'hour'], [60, 'minute'], [1, 'second']]
const DAY_NAMES = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday']


/** True for a zone name Intl knows, such as 'Europe/Berlin' or 'UTC'. */
export function isValidTimeZone(zone: string): boolean {
  if (!zone) return false
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone })
    return true
  } catch {
    return false
  }
}

/**
 * Reads the schedule at the start of `input`: a one-off time, "every …", or a five-field cron expression.
 * With `recurring` false (/remind) "every …" and cron still make a recurring schedule; with `recurring` true (/every)
 * the word "every" may be left out and one-off times are refused. Throws a RangeError for an unknown time zone.
 */
export function parseWhen(input: string, opts: Options): WhenParse {
  if (!isValidTimeZone(opts.timeZone)) throw new RangeError(`Unknown time zone: ${opts.timeZone}`)
  const text = input.trim()
  const every = /^every\b\s*/i.exec(text)
  if (!every && !opts.recurring) return parseCron(text, opts) ?? parseOnce(text, opts)
  const recurring = parseRecurring(every ? text.slice(every[0].length) : text, opts)
  if (!recurring) return fail('no_time', { code: 'no_time', recurring: true })
  return recurring.ok ? { ...recurring, phrase: `${every?.[0] ?? ''}${recurring.phrase}` } : recurring
}

/** The first firing strictly after `after`; undefined for a one-off already past or a cron that never fires again. */
export function nextRun(recurrence: Recurrence, after: Date, timeZone: string): Date | undefined {
  switch (recurrence.kind) {
    case 'once':
      return recurrence.at.getTime() > after.getTime() ? recurrence.at : undefined
    case 'interval':
      return new Date(after.getTime() + recurrence.seconds * 1000)
    case 'cron':
      return cron(recurrence.pattern, timeZone).nextRun(after) ?? undefined
  }
}

/** A short English description, such as "once", "every weekday at 08:30", "every 2 hours" or "cron 0 9 * * 1". */
export function describeRecurrence(recurrence: Recurrence): string {
  if (recurrence.kind === 'once') return 'once'
  if (recurrence.kind === 'interval') return `every ${duration(recurrence.seconds, true)}`
  // Only the shapes parseWhen writes are put in words; a cron the person typed is shown as typed.
  const m = /^(\d{1,2}) (\d{1,2}) \* \* (\*|1-5|0,6|SUN|MON|TUE|WED|THU|FRI|SAT)$/.exec(recurrence.pattern)
  if (!m) return `cron ${recurrence.pattern}`
  const days: Record<string, string> = { '*': 'day', '1-5': 'weekday', '0,6': 'Saturday and Sunday' }
  const day = days[m[3]!] ?? DAY_NAMES.find((name) => name.toUpperCase().startsWith(m[3]!))!
  return `every ${day} at ${hhmm(Number(m[2]), Number(m[1]))}`
}

/** An instant as a person in `timeZone` reads it, e.g. "Thu 3 Dec 2026, 18:30 (Europe/Berlin)". */
export function formatInZone(at: Date, timeZone: string): string {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone, weekday: 'short', day: 'numeric', month: 'short', year: 'numeric', hour: '2-digit', minute: '2-digit', hourCycle: 'h23',
  }).formatToParts(at)
  const p = (type: Intl.DateTimeFormatPartTypes) => parts.find((part) => part.type === type)?.value ?? ''
  return `${p('weekday')} ${p('day')} ${p('month')} ${p('year')}, ${p('hour')}:${p('minute')} (${timeZone})`
}

/**
 * The calendar day or month that `now` falls in for a person in `timeZone`: when it began and when the
 * next one begins (a budget's period and its reset), midnight to midnight on their wall clock.
 */
export function periodIn(kind: 'day' | 'month', now: Date, timeZone: string): { start: Date; end: Date } {
  const parts = new Intl.DateTimeFormat('en-US', { timeZone, year: 'numeric', month: 'numeric', day: 'numeric' }).formatToParts(now)
  const n = (type: Intl.DateTimeFormatPartTypes) => Number(parts.find((p) => p.type === type)?.value ?? 0)
  const [y, m, d] = [n('year'), n('month'), n('day')]
  // Date.UTC carries day 32 or month 13 over, so the next period's first day is found the same way.
  const wallDate = (year: number, month: number, day: number) => new Date(Date.UTC(year, month - 1, day))
  const midnight = (at: Date) => zonedInstant(at.getUTCFullYear(), at.getUTCMonth() + 1, at.getUTCDate(), 0, 0, 0, timeZone) ?? at
  return kind === 'day' ? { start: midnight(wallDate(y, m, d)), end: midnight(wallDate(y, m, d + 1)) } : { start: midnight(wallDate(y, m, 1)), end: midnight(wallDate(y, m + 1, 1)) }
}

// ---- one-off times ----------------------------------------------------------------------------

function parseOnce(text: string, opts: Options): WhenParse {
  const [first, second] = readTimes(text, opts, true)
  if (!first || !ONCE_LEAD.test(text.slice(0, first.index))) return fail('no_time', { code: 'no_time', recurring: false })
  const end = first.index + first.text.length
  const phrase = text.slice(0, end).replace(/^me\s+/i, '')
  if (second && JOINER.test(text.slice(end, second.index)) && instantOf(second, opts.timeZone)?.getTime() !== instantOf(first, opts.timeZone)?.getTime()) {
    return fail('ambiguous', { code: 'two_times', first: phrase, second: second.text })
  }
  const unclear = unclearTime(first, phrase, 'at 18:30')
  if (unclear) return unclear
  const at = instantOf(first, opts.timeZone)!
  if (at.getTime() <= opts.now.getTime()) {
    return fail('past', { code: 'past', at, timeZone: opts.timeZone })
  }
  return { ok: true, recurrence: { kind: 'once', at }, rest: restAfter(text, end), firstRun: at, phrase }
}

/**
 * chrono's reading of `text`, with "now" as the wall clock in the person's zone. A zone written after the time
 * counts only in capitals and only when `honorZones` ("at 9:00 EST"): chrono also takes "eat", "wet" or "art"
 * for East Africa, Western European or Argentina Time, and those are words of the message.
 */
function readTimes(text: string, opts: Options, honorZones: boolean): ParsedTime[] {
  const reference = { instant: opts.now, timezone: offsetMinutes(opts.now, opts.timeZone) }
  const results = chrono.parse(text, reference, { forwardDate: true })
  const first = results[0]
  if (!first || first.tags().has('result/relativeDate') || !first.start.isCertain('timezoneOffset')) return results
  const zone = /[\s,]*\(?([a-z]{2,4})\)?$/i.exec(first.text)
  if (!zone || (honorZones && zone[1] === zone[1]!.toUpperCase())) return results
  return [...chrono.parse(text.slice(0, first.index + zone.index), reference, { forwardDate: true }), ...results.slice(1)]
}

/** Asks back when a time leaves the hour or the half of the day open; undefined when it is clear. */
function unclearTime(result: ParsedTime, phrase: string, example: string): Failure | undefined {
  const start = result.start
  if (result.tags().has('result/relativeDate')) return undefined
  if (!start.isCertain('hour')) return fail('ambiguous', { code: 'no_hour', phrase, example: `${phrase} ${example}` })
  const hour = start.get('hour') ?? 0
  // chrono marks the minutes certain even for "at 7", so whether they were written is read from the text.
  const minutesWritten = /\d[:.]\d\d/.test(result.text)
  if (start.isCertain('meridiem') || minutesWritten || hour < 1 || hour > 12 || !result.tags().has('parser/ENTimeExpressionParser')) return undefined
  const [am, pm] = [hhmm(hour % 12, 0), hhmm((hour % 12) + 12, 0)]
  return fail('ambiguous', { code: 'meridiem', am, pm })
}

/** The exact instant chrono's result names, with wall-clock times placed in `timeZone` by croner (DST-correct). */
function instantOf(result: ParsedTime, timeZone: string): Date | undefined {
  const start = result.start
  // "in 10 minutes" is an instant already; so is a time with a written zone ("9:00 EST").
  if (result.tags().has('result/relativeDateAndTime') || (start.isCertain('timezoneOffset') && !result.tags().has('result/relativeDate'))) return start.date()
  const c = (k: chrono.Component) => start.get(k) ?? 0
  return zonedInstant(c('year'), c('month'), c('day'), c('hour'), c('minute'), c('second'), timeZone)
}

/** A wall-clock time in `timeZone` as an instant; croner moves a time in a DST gap forward and takes the first of a repeated one. */
function zonedInstant(year: number, month: number, day: number, hour: number, minute: number, second: number, timeZone: string): Date | undefined {
  const iso = `${String(year).padStart(4, '0')}-${pad(month)}-${pad(day)}T${pad(hour)}:${pad(minute)}:${pad(second)}`
  return new Cron(iso, { timezone: timeZone }).getOnce() ?? undefined
}

/** The zone's offset from UTC at `at`, in minutes, from the wall clock Intl reports there. */
function offsetMinutes(at: Date, timeZone: string): number {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric',
  }).formatToParts(at)
  const n = (type: Intl.DateTimeFormatPartTypes) => Number(parts.find((p) => p.type === type)?.value ?? 0)
  const wall = Date.UTC(n('year'), n('month') - 1, n('day'), n('hour'), n('minute'), n('second'))
  return Math.round((wall - Math.floor(at.getTime() / 1000) * 1000) / 60000)
}

const restAfter = (text: string, end: number) => text.slice(end).replace(SEPARATORS, '').trim()

// ---- recurring schedules ----------------------------------------------------------------------

const CRON_FIELDS = /^[\d*/,-]+\s+[\d*/,-]+(?:\s+(?:[\d*?/,\-#LW]+|[a-z]{3}(?:[-,][a-z]{3})*)){3}(?=\s|$)/i
const INTERVAL = /^(?:([1-9]\d*)\s*(seconds?|secs?|s|minutes?|mins?|m|hours?|hrs?|h|days?|d|weeks?|wks?|w)|(second|minute|hour|day|week))\b/i
const DAY_WORD = /^(weekdays?|weekends?|days|(?:sun|mon|tue|wed|thu|fri|sat)[a-z]*)\b/i
const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400, w: 604800 }

/** A cron expression at the start of `body`, five fields, optionally after the word "cron"; undefined when none is there. */
function parseCron(body: string, opts: Options): WhenParse | undefined {
  const prefixed = /^cron\b\s*/i.exec(body)
  if (prefixed) {
    // After the word "cron" the next five words are the expression, whatever they look like.
    const fields = /^(?:\S+(?:\s+|$)){1,5}/.exec(body.slice(prefixed[0].length))?.[0] ?? ''
    const end = prefixed[0].length + fields.length
    return fromCron(fields.trim().split(/\s+/).join(' '), restAfter(body, end), body.slice(0, end), opts)
  }
  const fields = CRON_FIELDS.exec(body)
  return fields ? fromCron(fields[0].split(/\s+/).join(' '), restAfter(body, fields[0].length), fields[0], opts) : undefined
}

/** The longest interval a schedule may repeat at (a year). */
const MAX_INTERVAL_SECONDS = 366 * 86400

/** A recurring schedule at the start of `body` (after "every", if it was written); undefined when none is there. */
function parseRecurring(body: string, opts: Options): WhenParse | undefined {
  const asCron = parseCron(body, opts)
  if (asCron) return asCron
  const interval = INTERVAL.exec(body)
  if (interval) {
    const seconds = (interval[1] ? Number(interval[1]) : 1) * UNIT_SECONDS[(interval[2] ?? interval[3]!)[0]!.toLowerCase()]!
    const time = leadingTime(body.slice(interval[0].length), opts)
    if (!time) return scheduled({ kind: 'interval', seconds }, intervalRuns(seconds, opts.now), restAfter(body, interval[0].length), interval[0], opts)
    if (seconds === 86400) return atTimeOn('*', 'every day', body, interval[0].length, time, opts)
    const every = `every ${duration(seconds, true)}`
    return fail('ambiguous', { code: 'interval_or_time', every })
  }
  const day = DAY_WORD.exec(body)
  const field = day ? dayOfWeekField(day[1]!.toLowerCase()) : undefined
  if (!day || field === undefined) return undefined
  const label = `every ${day[1]!.toLowerCase()}`
  const time = leadingTime(body.slice(day[0].length), opts)
  if (!time) return fail('ambiguous', { code: 'no_hour', phrase: label, example: `${label} at 08:30` })
  return atTimeOn(field, label, body, day[0].length, time, opts)
}

function fromCron(pattern: string, rest: string, phrase: string, opts: Options): WhenParse {
  let runs: Date[]
  try {
    runs = cron(pattern, opts.timeZone).nextRuns(6, opts.now)
  } catch (error) {
    const why = error instanceof Error ? error.message.replace(/^CronPattern:\s*/, '').replace(/\.$/, '') : undefined
    return fail('bad_cron', { code: 'bad_cron', pattern, why })
  }
  if (!runs[0]) return fail('bad_cron', { code: 'cron_never', pattern })
  return scheduled({ kind: 'cron', pattern }, runs, rest, phrase, opts)
}

/** "weekday at 8:30", "day at 9:00", "monday at 10:00": a cron at that wall-clock time in the person's zone. */
function atTimeOn(dayField: string, label: string, body: string, wordEnd: number, time: LeadingTime, opts: Options): WhenParse {
  const unclear = unclearTime(time.result, label, 'at 08:30')
  if (unclear) return unclear
  const end = wordEnd + time.end
  const [hour, minute] = [time.result.start.get('hour') ?? 0, time.result.start.get('minute') ?? 0]
  return fromCron(`${minute} ${hour} * * ${dayField}`, restAfter(body, end), body.slice(0, end), opts)
}

/** The cron weekday field for a day word, or undefined when the word is no day ("month"). */
function dayOfWeekField(word: string): string | undefined {
  if (/^days?$/.test(word)) return '*'
  if (/^weekdays?$/.test(word)) return '1-5'
  if (/^weekends?$/.test(word)) return '0,6'
  const name = word.replace(/s$/, '')
  // croner reads day names itself; the name also tells describeRecurrence this came from a phrase.
  return DAY_NAMES.find((day) => day.toLowerCase().startsWith(name))?.slice(0, 3).toUpperCase()
}

const intervalRuns = (seconds: number, now: Date) => [1, 2].map((k) => new Date(now.getTime() + k * seconds * 1000))

type LeadingTime = { result: ParsedTime; end: number }

/** A time of day at the start of `text` (an optional "at" before it), read by chrono; undefined when the text starts otherwise. */
function leadingTime(text: string, opts: Options): LeadingTime | undefined {
  const trimmed = text.trimStart()
  const [result] = readTimes(trimmed, opts, false)
  if (!result || !LEAD.test(trimmed.slice(0, result.index))) return undefined
  const start = result.start
  if (result.tags().has('result/relativeDate') || ['day', 'month', 'year', 'weekday'].some((k) => start.isCertain(k as chrono.Component))) return undefined
  return { result, end: text.length - trimmed.length + result.index + result.text.length }
}

/** The success, once the schedule is known not to repeat more often than allowed. */
function scheduled(recurrence: Recurrence, runs: Date[], rest: string, phrase: string, opts: Options): WhenParse {
  // "every 9999999999 weeks": no date a database can store.
  if (!runs[0] || !Number.isFinite(runs[0].getTime()) || (recurrence.kind === 'interval' && recurrence.seconds > MAX_INTERVAL_SECONDS)) {
    return fail('no_time', { code: 'too_far' })
  }
  const gaps = runs.slice(1).map((run, i) => (run.getTime() - runs[i]!.getTime()) / 1000)
  if (gaps.some((gap) => gap < opts.minIntervalSeconds)) {
    return fail('too_frequent', { code: 'too_frequent', minimum: duration(opts.minIntervalSeconds, false), example: `every ${duration(opts.minIntervalSeconds, true)}` })
  }
  return { ok: true, recurrence, rest, firstRun: runs[0], phrase: phrase.trim() }
}

/** "2 hours", "hour" (when `dropOne`) or "1 hour": the largest whole unit. */
function duration(seconds: number, dropOne: boolean): string {
  const [size, name] = UNITS.find(([s]) => seconds % s === 0) ?? [1, 'second']
  const n = seconds / size
  if (n === 1) return dropOne ? name : `1 ${name}`
  return `${n} ${name}s`
}

/** Cron patterns are five fields and evaluated in the person's zone, so 08:30 stays 08:30 across DST. */
function cron(pattern: string, timeZone: string): Cron {
  return new Cron(pattern, { timezone: timeZone, mode: '5-part' })
}
