import { Composer, InlineKeyboard } from 'grammy'
import type { CommandContext } from 'grammy'
import { coder } from '../../agents/coder.ts'
import { REPOSITORY_NAME } from '../../domain/repositories.ts'
import { buttonCodec } from '../callback-data.ts'
import type { ButtonCodec } from '../callback-data.ts'
import { personOf } from '../people.ts'
import type { TaskRow } from '../../services/tasks.ts'
import type { Context } from '../context.ts'
import { bold, code as codeHtml, html } from '../format/html.ts'
import type { Html } from '../format/html.ts'
import { splitHtml } from '../format/split.ts'
import { taskErrorText } from '../tasks/report.ts'
import { converse } from './chat.ts'

type Ctx = CommandContext<Context>

const ago = (d: Date, now = Date.now()) => {
  const s = Math.max(0, Math.round((now - d.getTime()) / 1000))
  if (s < 90) return `${s} s ago`
  if (s < 90 * 60) return `${Math.round(s / 60)} min ago`
  if (s < 36 * 3600) return `${Math.round(s / 3600)} h ago`
  return `${Math.round(s / 86400)} d ago`
}

/** One task as /tasks shows it, as Telegram HTML: its id as code, its status in bold, what it does or did, then its instructions. Pure, for tests. */
export function taskLine(task: Pick<TaskRow, 'id' | 'status' | 'step' | 'activity' | 'result' | 'error' | 'input' | 'createdAt'>, now = Date.now()): Html {
  const r = task.result ?? {}
  const detail: Html | string = {
    running: task.activity ?? task.step,
    queued: task.step === 'code' ? 'waiting to start' : `${task.step} queued`,
    waiting: `ready for review: ${r.files?.length ?? 0} file(s), +${r.added ?? 0} −${r.removed ?? 0}`,
    completed: r.pushedTo ? html`pushed to ${codeHtml(r.pushedTo)}` : 'no changes',
    failed: task.error === null ? '' : taskErrorText(task.error),
    cancelled: task.error === null ? '' : taskErrorText(task.error),
  }[task.status]
  const instructions = task.input.instructions.length > 80 ? `${task.input.instructions.slice(0, 79)}…` : task.input.instructions
  return html`${codeHtml(task.id)} · ${bold(task.status)}${detail ? html` — ${detail}` : ''} · ${ago(task.createdAt, now)}\n  "${instructions}"`
}

/** The buttons that pick a parked /code request's repository: `rp:<request id>:<name>`. */
export const repositoryButtons = buttonCodec<{ id: string; name: string }>('rp', {
  encode: ({ id, name }) => [id, name],
  decode: ([id, name, ...rest]) => (rest.length === 0 && id && /^[\w-]{1,16}$/.test(id) && name && REPOSITORY_NAME.test(name) ? { id, name } : undefined),
})

/** `/code more <task>: …`: the task and the follow-up's instructions, or undefined. Pure, for tests. */
export function parseMore(text: string): { taskId: string; instructions: string } | undefined {
  const m = /^more\s+([a-z0-9]{4,16})\s*:\s*([\s\S]+)$/i.exec(text.trim())
  return m ? { taskId: m[1]!.toLowerCase(), instructions: m[2]!.trim() } : undefined
}

/** What the person reads when a follow-up is queued, or why not. Pure, for tests. */
export function followUpText(done: Awaited<ReturnType<Context['services']['tasks']['followUp']>>, taskId: string): Html {
  if ('task' in done) {
    const branch = done.task.input.continues?.branch ?? '?'
    return html`Task ${codeHtml(done.task.id)} continues ${codeHtml(done.of.id)} on ${codeHtml(branch)}: aider starts from that change as soon as the repository is free, and you review the result again.`
  }
  switch (done.refused) {
    case 'unknown':
      return html`There is no task ${codeHtml(taskId)} in this chat.`
    case 'busy':
      return html`Task ${codeHtml(taskId)} is still running. Reply to its summary once it is ready for review.`
    case 'denied':
      return html`Only the person who asked for task ${codeHtml(taskId)}, or an admin, can continue it.`
    case 'ended':
      return html`Task ${codeHtml(taskId)} has no change to continue: only a change under review, or one pushed to its own branch or opened as a pull request, can. Ask for a new one with /code.`
  }
}

async function followUp(ctx: Context, taskId: string, instructions: string): Promise<void> {
  if (!ctx.chat || instructions.length < 3) return void (await ctx.reply('Say what to change next, for example: /code more k3f9x2qa: also update the README'))
  if (instructions.length > 4000) return void (await ctx.reply('A follow-up is at most 4000 characters.'))
  const done = await ctx.services.tasks.followUp({ chatId: ctx.chat.id, taskId, instructions, by: personOf(ctx), isAdmin: ctx.isAdmin, updateId: ctx.update.update_id })
  await ctx.reply(followUpText(done, taskId).html, { parse_mode: 'HTML' })
}

/**
 * /code <request>: hands the request to the coder agent, which plans it and asks for approval. With
 * several repositories the request goes to the one it names (`/code web: …`), else the chat's
 * default, else the person picks with a button. `/code more <task>: …` continues a task's change.
 */
export async function code(ctx: Ctx): Promise<void> {
  const request = ctx.match.trim()
  if (!request) return void (await ctx.reply('Tell me what to change, for example: /code add a NOTES.md saying hello'))
  const more = parseMore(request)
  if (more) return followUp(ctx, more.taskId, more.instructions)
  const repositories = ctx.services.repositories
  const route = repositories ? await repositories.route(ctx.chat.id, request) : { repository: undefined, request }
  if ('choose' in route) {
    const id = await repositories!.park(ctx.chat.id, ctx.from?.id ?? 0, request)
    const keyboard = new InlineKeyboard()
    route.choose.forEach((name, i) => {
      keyboard.text(name, repositoryButtons.encode({ id, name }))
      if (i % 3 === 2) keyboard.row()
    })
    return void (await ctx.reply('Which repository is this for? (Set a default for this chat with /repo name.)', { reply_markup: keyboard }))
  }
  await converse(ctx, { text: route.request }, coder.name, route.repository ? { repository: route.repository } : undefined)
}

const composer = new Composer<Context>()

/** A press on a button of a parked request: what it carries, and the request if it is still open and the presser's own. */
async function pressedOnParked<T extends { id: string }>(ctx: Context, codec: ButtonCodec<T>) {
  const value = codec.decode(ctx.callbackQuery?.data)
  const repositories = ctx.services.repositories
  const request = value && repositories && ctx.chat && ctx.from && (await repositories.parked(value.id, ctx.chat.id, ctx.from.id))
  return value && repositories && request ? { value, request, repositories } : undefined
}

// A repository picked for a parked /code request: the request goes to the coder for that repository.
composer.on('callback_query:data').filter(
  (ctx) => repositoryButtons.owns(ctx.callbackQuery.data),
  async (ctx) => {
    const open = await pressedOnParked(ctx, repositoryButtons)
    if (!open) return void (await ctx.answerCallbackQuery({ text: 'This choice is no longer open (or not yours). Send the request again.', show_alert: true }))
    const { value: picked, request, repositories } = open
    if (!(await repositories.names()).includes(picked.name)) return void (await ctx.answerCallbackQuery({ text: `${picked.name} was removed meanwhile. Send the request again.`, show_alert: true }))
    // A retried update finds the query answered already: that is fine.
    await ctx.answerCallbackQuery({ text: picked.name }).catch((err: unknown) => ctx.log.debug({ err }, 'button already answered'))
    await ctx.editMessageText(html`Repository: ${bold(picked.name)}`.html, { parse_mode: 'HTML' }).catch((err: unknown) => ctx.log.debug({ err }, 'could not edit the repository question'))
    await converse(ctx, { text: request }, coder.name, { repository: picked.name })
    await repositories.unpark(picked.id)
  },
)

/** The buttons under "continue this task?": `fu:<request id>:go` or `fu:<request id>:no`. */
export const followUpButtons = buttonCodec<{ id: string; go: boolean }>('fu', {
  encode: ({ id, go }) => [id, go ? 'go' : 'no'],
  decode: ([id, choice, ...rest]) => (rest.length === 0 && id && /^[\w-]{1,16}$/.test(id) && (choice === 'go' || choice === 'no') ? { id, go: choice === 'go' } : undefined),
})

// A reply to one of a task's messages (its progress, summary, end or push approval) offers to continue
// that task with the reply as aider's instructions: a button, so a "thanks!" never starts a paid run
// or replaces a change under review. (/code more <task>: … says it outright and runs at once.)
composer.on('message:text').filter(
  (ctx) => ctx.message.reply_to_message?.from?.id === ctx.me.id && !ctx.message.text.startsWith('/'),
  async (ctx, next) => {
    const task = await ctx.services.tasks.taskOfMessage(ctx.chat.id, ctx.message.reply_to_message!.message_id)
    const repositories = ctx.services.repositories
    if (!task || !repositories) return next()
    const instructions = ctx.message.text.trim()
    const id = await repositories.park(ctx.chat.id, ctx.from.id, `more ${task.id}: ${instructions}`)
    const keyboard = new InlineKeyboard().text('Continue', followUpButtons.encode({ id, go: true })).text('No', followUpButtons.encode({ id, go: false }))
    await ctx.reply(html`Continue task ${codeHtml(task.id)} on its branch with this? aider takes your words as they are, and you review the result before anything is pushed.`.html, {
      parse_mode: 'HTML',
      reply_markup: keyboard,
      reply_parameters: { message_id: ctx.message.message_id, allow_sending_without_reply: true },
    })
  },
)

composer.on('callback_query:data').filter(
  (ctx) => followUpButtons.owns(ctx.callbackQuery.data),
  async (ctx) => {
    const open = await pressedOnParked(ctx, followUpButtons)
    const more = open && parseMore(open.request)
    if (!open || !more) return void (await ctx.answerCallbackQuery({ text: 'This question is no longer open (or not yours).', show_alert: true }))
    const { value: pressed, repositories } = open
    await ctx.answerCallbackQuery().catch((err: unknown) => ctx.log.debug({ err }, 'button already answered'))
    const answer = pressed.go ? html`Continuing task ${codeHtml(more.taskId)}.` : html`Task ${codeHtml(more.taskId)} is left as it is.`
    await ctx.editMessageText(answer.html, { parse_mode: 'HTML' }).catch((err: unknown) => ctx.log.debug({ err }, 'could not edit the question'))
    if (pressed.go) await followUp(ctx, more.taskId, more.instructions)
    await repositories.unpark(pressed.id)
  },
)

export { composer as tasksFeature }

/** /tasks: the chat's recent tasks (in as many messages as it takes). */
export async function tasks(ctx: Ctx): Promise<void> {
  const list = await ctx.services.tasks.listForChat(ctx.chat.id)
  if (list.length === 0) return void (await ctx.reply('No tasks in this chat yet. Ask for a change with /code.'))
  const text = html`Recent tasks:${list.map((t) => html`\n${taskLine(t)}`)}`
  for (const part of splitHtml(text.html)) await ctx.reply(part, { parse_mode: 'HTML' })
}
