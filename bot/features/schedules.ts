import { Composer, InlineKeyboard } from 'grammy'
import type { CommandContext } from 'grammy'
import { describeRecurrence, formatInZone } from '../../domain/schedule-time.ts'
import { mayChangeSchedule, recurrenceOf } from '../../services/schedules.ts'
import type { CreateRefusal, ScheduleKind, ScheduleRow } from '../../services/schedules.ts'
import { buttonCodec } from '../callback-data.ts'
import type { Context } from '../context.ts'
import { bold, code, html, italic } from '../format/html.ts'
import type { Html } from '../format/html.ts'
import { personOf, placeOf } from '../people.ts'
import { whenHintText } from '../schedules/words.ts'

const HTML = { parse_mode: 'HTML' as const }
const LIST_LIMIT = 20

type ScheduleAction = 'pause' | 'resume' | 'delete'
const LETTERS = { pause: 'p', resume: 'r', delete: 'd' } as const
const ACTIONS = { p: 'pause', r: 'resume', d: 'delete' } as const

/** A schedule's buttons carry its id and the button: `sc:<id>:<p|r|d>`. */
export const scheduleButtons = buttonCodec<{ id: string; action: ScheduleAction }>('sc', {
  encode: ({ id, action }) => [id, LETTERS[action]],
  decode: ([id, letter, ...rest]) => (rest.length === 0 && id && /^[A-Za-z0-9_-]{12}$/.test(id) && letter && letter in ACTIONS ? { id, action: ACTIONS[letter as keyof typeof ACTIONS] } : undefined),
})

const KIND_WORD: Record<ScheduleKind, string> = { reminder: 'Reminder', job: 'Job' }

/** One schedule as /schedules shows it: kind and id, text, rhythm, next time in its zone, maker, and how its last firing went. */
export function scheduleHtml(row: ScheduleRow): Html {
  const next = row.paused ? bold('paused') : row.nextRunAt ? html`next ${formatInZone(row.nextRunAt, row.timeZone)}` : 'done'
  const last =
    row.lastOutcome === 'failed'
      ? html`\n${bold('Last firing failed')}${row.lastDueAt ? ` (due ${formatInZone(row.lastDueAt, row.timeZone)})` : ''}: the message could not be delivered. An admin finds why in the log.`
      : row.lastSentAt
        ? html`\nLast sent ${formatInZone(row.lastSentAt, row.timeZone)}${row.lastSentAt.getTime() - (row.lastDueAt ?? row.lastSentAt).getTime() > 60_000 ? ' (late)' : ''}`
        : ''
  return html`${bold(KIND_WORD[row.kind])} ${code(row.id)}${row.agent ? html` for ${code(row.agent)}` : ''}: ${row.body}
${describeRecurrence(recurrenceOf(row))}; ${next}
Made by ${row.ownerName}${last}`
}

/** A schedule's buttons as message options: Pause or Resume, and Delete; none once a one-off has fired. */
function scheduleButtonsFor(row: ScheduleRow): { reply_markup?: InlineKeyboard } {
  if (!row.nextRunAt && !row.paused) return {}
  const button = (action: ScheduleAction) => scheduleButtons.encode({ id: row.id, action })
  return { reply_markup: new InlineKeyboard().text(row.paused ? 'Resume' : 'Pause', button(row.paused ? 'resume' : 'pause')).text('Delete', button('delete')) }
}

/** Why a schedule was not made, in one sentence with an example. */
export function refusalText(r: CreateRefusal, command: 'remind' | 'every'): string {
  if (r.reason === 'too_many') return `You have ${r.limit} schedules, the most allowed. Delete one with /schedules first.`
  if (r.reason === 'no_text') return command === 'remind' ? 'What should I remind you of? For example: /remind in 10 minutes stretch your legs' : 'What should I do then? For example: /every weekday at 8:30 summarise what changed in the repo'
  return whenHintText(r.hint)
}

/** /remind <when> <text> (a reminder) and /every <when> <prompt> (a recurring job): made, and confirmed with the exact next time. */
function make(kind: ScheduleKind, command: 'remind' | 'every') {
  return async (ctx: CommandContext<Context>): Promise<void> => {
    const input = ctx.match.trim()
    if (!input) return void (await ctx.reply(refusalText({ reason: 'no_text' }, command)))
    const made = await ctx.services.schedules.create({ place: placeOf(ctx), person: personOf(ctx), kind, input, recurring: command === 'every' })
    if (!('row' in made)) return void (await ctx.reply(refusalText(made, command)))
    const { row, zone } = made
    const what = kind === 'reminder' ? 'Reminder set' : 'Job scheduled'
    await ctx.reply(
      html`${bold(what)} (${code(row.id)}): ${row.body}
${describeRecurrence(recurrenceOf(row))}; next ${bold(formatInZone(row.nextRunAt!, zone))}
${italic('Change your time zone with /timezone; see all with /schedules.')}`.html,
      { ...HTML, ...scheduleButtonsFor(row) },
    )
  }
}

export const remind = make('reminder', 'remind')
export const every = make('job', 'every')

/** /schedules: this chat's, each with its buttons; admins add "all" for every chat's. */
export async function schedules(ctx: CommandContext<Context>): Promise<void> {
  const all = ctx.match.trim() === 'all'
  if (all && !ctx.isAdmin) return void (await ctx.reply('Only admins see every chat\'s schedules. /schedules shows this chat\'s.'))
  const rows = (await ctx.services.schedules.list(all ? {} : { chatId: ctx.chat.id })).slice(0, LIST_LIMIT)
  if (rows.length === 0) return void (await ctx.reply(all ? 'There are no schedules.' : 'This chat has no schedules. Make one with /remind in 10 minutes stretch.'))
  for (const row of rows) {
    await ctx.reply(html`${scheduleHtml(row)}${all ? html`\nChat: ${code(String(row.chatId))}` : ''}`.html, { ...HTML, ...scheduleButtonsFor(row) })
  }
}

/** /timezone [name]: shows or sets the person's IANA time zone. */
export async function timezone(ctx: CommandContext<Context>): Promise<void> {
  const zone = ctx.match.trim()
  const { schedules: book } = ctx.services
  if (!zone) return void (await ctx.reply(html`Your time zone is ${code(await book.timeZoneOf(ctx.from!.id))}. Change it with /timezone Europe/Berlin (any IANA name).`.html, HTML))
  if (!(await book.setTimeZone(ctx.from!.id, zone))) return void (await ctx.reply(`"${zone.slice(0, 60)}" is not a time zone I know. Use an IANA name such as Europe/Berlin, America/New_York or UTC.`))
  await ctx.reply(html`Your time zone is now ${code(zone)}. New reminders use it; existing ones keep theirs.`.html, HTML)
}

const composer = new Composer<Context>()

composer.on('callback_query:data').filter(
  (ctx) => scheduleButtons.owns(ctx.callbackQuery.data),
  async (ctx) => {
    const { schedules: book } = ctx.services
    const data = scheduleButtons.decode(ctx.callbackQuery.data)
    const row = data && (await book.get(data.id))
    if (!data || !row) {
      await ctx.answerCallbackQuery({ text: 'This schedule no longer exists.', show_alert: true })
      return void (await ctx.editMessageReplyMarkup({ reply_markup: undefined }).catch(() => undefined))
    }
    if (!mayChangeSchedule(row, ctx.from.id, ctx.isAdmin)) return void (await ctx.answerCallbackQuery({ text: 'Only the person who made it, or an admin, can change this schedule.', show_alert: true }))
    if (data.action === 'delete') {
      await book.delete(row)
      ctx.log.info({ scheduleId: row.id }, 'schedule deleted')
      await ctx.answerCallbackQuery({ text: 'Deleted' })
      return void (await ctx.editMessageText(html`${bold('Deleted')}: ${row.body}`.html, HTML).catch(() => undefined))
    }
    const changed = await book.setPaused(row, data.action === 'pause')
    await ctx.answerCallbackQuery({ text: data.action === 'pause' ? 'Paused' : 'Resumed' })
    if (changed) await ctx.editMessageText(scheduleHtml(changed).html, { ...HTML, ...scheduleButtonsFor(changed) }).catch(() => undefined)
  },
)

export { composer as schedulesFeature }
