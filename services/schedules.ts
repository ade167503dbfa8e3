import { ModelError } from '../agents/model.ts'
import type { AgentDirectory } from '../agents/directory.ts'
import type { Pool } from '../db/database.ts'
import * as db from '../db/schedules.ts'
import type { ScheduleKind, ScheduleRow } from '../db/schedules.ts'
import type { ScheduleBook, ScheduleSummary } from '../agents/schedule-tools.ts'
import type { ToolContext } from '../agents/tools/tool.ts'
import { topicOfThread } from '../db/chat-threads.ts'
import { describeRecurrence, formatInZone, isValidTimeZone, nextRun, parseWhen } from '../domain/schedule-time.ts'
import type { Recurrence, WhenHint } from '../domain/schedule-time.ts'
import type { Logger } from '../logger.ts'
import type { Approvals } from './approvals.ts'
import type { ChatPlace, Chats } from './chats.ts'
import type { ChatOutput, Person } from './output.ts'

export type { ScheduleKind, ScheduleRow } from '../db/schedules.ts'

/** The inbox event a due schedule becomes. */
export const SCHEDULE_EVENT = 'schedule_fired'

/** A firing this much after its time says it is late (the service was down, or the chat was busy). */
export const LATE_AFTER_MS = 60_000

export interface ScheduleLimits {
  perPerson: number
  minIntervalSeconds: number
  defaultTimeZone: string
}

/** What firings are measured by: kind, outcome (sent, failed), and the lag from due to sent. */
export interface ScheduleObserver {
  fired(kind: ScheduleKind, outcome: 'sent' | 'failed', lagMs: number): void
}

/** Why a schedule was not made: the time phrase (with the parser's hint), the cap, or an empty text. */
export type CreateRefusal = { reason: 'no_time' | 'ambiguous' | 'past' | 'too_frequent' | 'bad_cron'; hint: WhenHint } | { reason: 'too_many'; limit: number } | { reason: 'no_text' }

export const recurrenceOf = (row: Pick<ScheduleRow, 'recurrence'>): Recurrence => {
  const r = row.recurrence as Recurrence & { at?: string | Date }
  return r.kind === 'once' ? { kind: 'once', at: new Date(r.at) } : r
}

/** Whether a person may pause, resume or delete a schedule: its maker, or an admin. */
export const mayChangeSchedule = (row: Pick<ScheduleRow, 'ownerId'>, userId: number, isAdmin: boolean) => isAdmin || row.ownerId === userId

/**
 * Reminders and jobs: made from a phrase in the person's time zone, listed, paused, deleted, and
 * moved by the scheduler into their chat's inbox lane when due (exactly once, whatever the number of
 * instances). Needs only the database: the agents' schedule tools use it too. Carrying a firing out
 * is `ScheduleFirings`'.
 */
export class Schedules implements ScheduleBook {
  readonly #pool: Pool
  readonly #limits: ScheduleLimits
  readonly #log: Logger

  constructor(deps: { pool: Pool; limits: ScheduleLimits; log: Logger }) {
    this.#pool = deps.pool
    this.#limits = deps.limits
    this.#log = deps.log
  }

  /** A person's time zone: theirs (/timezone), else DEFAULT_TIMEZONE. */
  async timeZoneOf(userId: number): Promise<string> {
    return (await db.getTimeZone(this.#pool, userId)) ?? this.#limits.defaultTimeZone
  }

  /** Sets a person's time zone; false for a name that is not an IANA zone. */
  async setTimeZone(userId: number, zone: string): Promise<boolean> {
    if (!isValidTimeZone(zone)) return false
    await db.setTimeZone(this.#pool, userId, zone)
    return true
  }

  /**
   * Makes a schedule from what a person typed: `when` then the text (a reminder) or the prompt (a
   * job), in their time zone. `recurring`: the phrase is a recurrence even without "every" (/every).
   */
  async create(req: { place: ChatPlace; person: Person; kind: ScheduleKind; input: string; recurring: boolean; agent?: string | undefined; now?: Date }): Promise<{ row: ScheduleRow; zone: string } | CreateRefusal> {
    const zone = await this.timeZoneOf(req.person.id)
    const parsed = parseWhen(req.input, { now: req.now ?? new Date(), timeZone: zone, recurring: req.recurring, minIntervalSeconds: this.#limits.minIntervalSeconds })
    if (!parsed.ok) return { reason: parsed.reason, hint: parsed.hint }
    if (!parsed.rest) return { reason: 'no_text' }
    if ((await db.countActive(this.#pool, req.person.id)) >= this.#limits.perPerson) return { reason: 'too_many', limit: this.#limits.perPerson }
    const row = await db.createSchedule(this.#pool, {
      chatId: req.place.chatId,
      topicId: req.place.topicId ?? null,
      ownerId: req.person.id,
      ownerName: req.person.name,
      kind: req.kind,
      body: parsed.rest.slice(0, 2000),
      agent: req.agent ?? null,
      timeZone: zone,
      recurrence: parsed.recurrence,
      nextRunAt: parsed.firstRun,
    })
    this.#log.info({ scheduleId: row.id, chatId: row.chatId, kind: row.kind, recurrence: describeRecurrence(parsed.recurrence), nextRunAt: row.nextRunAt }, 'schedule created')
    return { row, zone }
  }

  get(id: string): Promise<ScheduleRow | undefined> {
    return db.getSchedule(this.#pool, id)
  }

  /** A chat's schedules; every chat's with `all`; one person's with `ownerId`. */
  list(where: { chatId?: number | undefined; ownerId?: number | undefined }): Promise<ScheduleRow[]> {
    return db.listSchedules(this.#pool, where)
  }

  /** Pauses, or resumes at its next time from now (a paused recurring schedule does not catch up). */
  async setPaused(row: ScheduleRow, paused: boolean): Promise<ScheduleRow | undefined> {
    const next = paused ? null : row.nextRunAt && row.nextRunAt > new Date() ? row.nextRunAt : (nextRun(recurrenceOf(row), new Date(), row.timeZone) ?? null)
    return db.setPaused(this.#pool, row.id, paused, next)
  }

  delete(row: ScheduleRow): Promise<boolean> {
    return db.deleteSchedule(this.#pool, row.id)
  }

  /** A schedule as the agents' tools show it. */
  summary(row: ScheduleRow): ScheduleSummary {
    return { id: row.id, kind: row.kind, body: row.body, recurrence: describeRecurrence(recurrenceOf(row)), next: row.nextRunAt && !row.paused ? formatInZone(row.nextRunAt, row.timeZone) : undefined, paused: row.paused }
  }

  async createForTool(context: ToolContext, kind: ScheduleKind, phrase: string): Promise<{ ok: true; summary: ScheduleSummary } | { ok: false; why: string }> {
    const place = { chatId: context.chatId, topicId: topicOfThread(context.threadId) }
    const person = { id: context.userId, name: (await db.nameOf(this.#pool, context.userId)) ?? String(context.userId) }
    const made = await this.create({ place, person, kind, input: phrase, recurring: false, agent: kind === 'job' ? context.agent : undefined })
    if ('row' in made) return { ok: true, summary: this.summary(made.row) }
    if (made.reason === 'too_many') return { ok: false, why: `the person already has ${made.limit} schedules, the most allowed.` }
    if (made.reason === 'no_text') return { ok: false, why: 'there is no text after the time: say what to remind of.' }
    // The model reads the code and its details, and asks the person (the words for people are the bot's).
    return { ok: false, why: `${made.reason}: ${JSON.stringify(made.hint)}` }
  }

  async listForTool(context: ToolContext): Promise<ScheduleSummary[]> {
    return (await this.list({ chatId: context.chatId })).map((r) => this.summary(r))
  }

  async cancelForTool(context: ToolContext, id: string): Promise<'deleted' | 'unknown' | 'not_allowed'> {
    const row = await this.get(id)
    if (!row || row.chatId !== context.chatId) return 'unknown'
    if (!mayChangeSchedule(row, context.userId, false)) return 'not_allowed'
    await this.delete(row)
    return 'deleted'
  }

  /** For /status: how many will fire, are paused, last failed, and the next firing. */
  figures(): ReturnType<typeof db.scheduleFigures> {
    return db.scheduleFigures(this.#pool)
  }

  /**
   * The scheduler's job: due schedules become events in their chats' lanes, each advanced to its
   * next time after now in the same transaction (missed slots collapse into this one firing).
   */
  async fireDue(): Promise<number> {
    const fired = await db.fireDue(this.#pool, SCHEDULE_EVENT, (row, now) => {
      const recurrence = recurrenceOf(row)
      if (recurrence.kind === 'once') return null
      if (recurrence.kind === 'interval') {
        // On time: the series keeps its phase. After missed slots (the service was down): this one
        // firing stands for all of them, and the rhythm starts again from it.
        const step = recurrence.seconds * 1000
        const due = row.nextRunAt!.getTime()
        return new Date(now.getTime() - due >= step ? now.getTime() + step : due + step)
      }
      return nextRun(recurrence, now, row.timeZone) ?? null
    })
    if (fired.length) this.#log.info({ schedules: fired.map((f) => f.row.id) }, 'schedules fired')
    return fired.length
  }
}

/**
 * Carries out firings in their chats' lanes (as inbox events, with the inbox's retries): a
 * reminder's text sent, a job's prompt answered by its agent. Each firing records the message it
 * sent (the proof of delivery), or why it failed.
 */
export class ScheduleFirings {
  readonly #pool: Pool
  readonly #output: ChatOutput
  readonly #chats: Chats
  readonly #approvals: Approvals
  readonly #agents: AgentDirectory
  readonly #observe: ScheduleObserver
  readonly #mayUse: (personId: number) => Promise<boolean>
  readonly #log: Logger

  constructor(deps: { pool: Pool; output: ChatOutput; chats: Chats; approvals: Approvals; agents: AgentDirectory; observe: ScheduleObserver; mayUse: (personId: number) => Promise<boolean>; log: Logger }) {
    this.#pool = deps.pool
    this.#output = deps.output
    this.#chats = deps.chats
    this.#approvals = deps.approvals
    this.#agents = deps.agents
    this.#observe = deps.observe
    this.#mayUse = deps.mayUse
    this.#log = deps.log
  }

  /**
   * Carries out a firing in its chat's lane: a reminder's text, or a job's prompt answered by its
   * agent (the chat's when that agent no longer exists). The message sent is recorded as proof of
   * delivery; a send that fails throws, so the inbox retries it.
   */
  async fire(scheduleId: string, dueAt: Date, turnId: string): Promise<void> {
    const row = await db.getSchedule(this.#pool, scheduleId)
    if (!row) return void this.#log.info({ scheduleId }, 'a deleted schedule fired; nothing sent')
    // A retry of a firing that was delivered, or one queued just before a pause: nothing more to send.
    if (row.lastOutcome === 'sent' && row.lastDueAt?.getTime() === dueAt.getTime()) return
    if (row.paused) return void this.#log.info({ scheduleId }, 'a paused schedule fired; nothing sent')
    // Someone an admin denied since does not get their schedules run in their name.
    if (!(await this.#mayUse(row.ownerId))) {
      await db.setPaused(this.#pool, row.id, true, null)
      return void this.#log.warn({ scheduleId, ownerId: row.ownerId }, 'the maker of a schedule may no longer use the bot; paused')
    }
    const target = { chatId: row.chatId, topicId: row.topicId ?? undefined }
    const lateMs = Math.max(0, Date.now() - dueAt.getTime())
    const late = lateMs >= LATE_AFTER_MS ? lateMs : undefined
    let messageId: number | undefined
    if (row.kind === 'reminder') {
      messageId = await this.#output.reminder(target, { text: row.body, lateMs: late, ownerName: row.ownerName })
    } else {
      const agent = row.agent && (await this.#agents.get(row.agent)) ? row.agent : undefined
      const owner: Person = { id: row.ownerId, name: row.ownerName }
      try {
        const { threadId, outcome } = await this.#chats.converse({ place: target, person: owner, updateId: 0, turnId, text: row.body, agent })
        if (outcome.kind === 'approval') await this.#approvals.present({ ...target, threadId, requester: owner }, outcome)
        else messageId = await this.#output.jobAnswer(target, { prompt: row.body, text: outcome.text, agent: outcome.agent, lateMs: late, missingAgent: row.agent && !agent ? row.agent : undefined })
      } catch (err) {
        if (!(err instanceof ModelError)) throw err
        await this.#output.modelFailed(target, err)
        await this.failed(scheduleId, dueAt, `the model failed: ${err.kind}`)
        return
      }
    }
    await db.recordFiring(this.#pool, row.id, { dueAt, messageId: messageId ?? 0 })
    this.#observe.fired(row.kind, 'sent', lateMs)
  }

  /** A firing that could not be carried out, after the inbox's last attempt: /schedules shows it. */
  async failed(scheduleId: string, dueAt: Date, error: string): Promise<void> {
    const row = await db.getSchedule(this.#pool, scheduleId)
    if (!row) return
    await db.recordFiring(this.#pool, scheduleId, { dueAt, error })
    this.#observe.fired(row.kind, 'failed', Date.now() - dueAt.getTime())
    this.#log.warn({ scheduleId, error }, 'a schedule firing failed')
  }
}
