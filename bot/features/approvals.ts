import { Composer } from 'grammy'
import type { CommandContext } from 'grammy'
import type { Decision } from '../../domain/approvals.ts'
import { InvalidDecisionError } from '../../services/approvals.ts'
import { canDecide, isOpen, mayAllowInThread, requesterOf, routesOf } from '../../services/approvals.ts'
import type { ApprovalRow, ToolAllowance } from '../../services/approvals.ts'
import { approvalButtons, approvalKeyboard, approvalText, statusWord } from '../approvals/message.ts'
import type { Context } from '../context.ts'
import { bold, code, html } from '../format/html.ts'
import type { Html } from '../format/html.ts'
import { utcMinute } from '../format/time.ts'
import { personOf } from '../people.ts'

const composer = new Composer<Context>()
const HTML = { parse_mode: 'HTML' } as const

async function alert(ctx: Context, text: string, removeButtons: boolean): Promise<void> {
  await ctx.answerCallbackQuery({ text, show_alert: true })
  if (removeButtons) await ctx.editMessageReplyMarkup({ reply_markup: undefined }).catch((err: unknown) => ctx.log.debug({ err }, 'buttons already gone'))
}

/** Why a request can no longer be decided, for the person who pressed. */
function closedReason(row: ApprovalRow): string {
  if (row.status === 'pending') return 'This request has expired.'
  return `This request was already ${statusWord(row.status)}.`
}

composer.on('callback_query:data').filter(
  (ctx) => approvalButtons.owns(ctx.callbackQuery.data),
  async (ctx) => {
    const { approvals } = ctx.services
    const data = approvalButtons.decode(ctx.callbackQuery.data)
    const row = data && (await approvals.get(data.id))
    if (!data || !row) return alert(ctx, 'This request is unknown. Nothing was done.', true)
    if (!canDecide(ctx.from.id, row, ctx.isAdmin)) return alert(ctx, 'Only the person who asked, or an admin, can decide this.', false)

    if (!isOpen(row)) {
      // A retry of the very update that decided it: finish the resume that was cut short.
      if (row.decidedByUpdate === ctx.update.update_id && !row.resumedAt) {
        await ctx.answerCallbackQuery()
        return approvals.settle(row, personOf(ctx))
      }
      return alert(ctx, closedReason(row), true)
    }

    if (data.action === 'edit') {
      if (!row.payload.editableArg) return alert(ctx, 'This request cannot be edited.', false)
      await ctx.answerCallbackQuery({ text: 'Reply to my next message with your changes.' })
      const prompt = await ctx.api.sendMessage(row.chatId, html`Reply to this message with the new ${code(row.payload.editableArg)} for ${bold(row.payload.tool)}.`.html, {
        ...HTML,
        reply_markup: { force_reply: true, selective: true, input_field_placeholder: row.payload.editableArg },
        ...(row.messageId !== null && { reply_parameters: { message_id: row.messageId, allow_sending_without_reply: true } }),
      })
      await approvals.awaitEdit(row.id, prompt.message_id)
      return
    }

    const approve = data.action === 'approve' || data.action === 'allow' || data.action === 'pr'
    const allowInThread = data.action === 'allow'
    // A task's change goes the way its button says, and only a way the request offered.
    const routes = routesOf(row)
    if (row.type === 'push' && ((data.action === 'approve' && !routes.push) || (data.action === 'pr' && !routes.pr))) return alert(ctx, 'This request cannot be decided that way.', false)
    if (row.type !== 'push' && data.action === 'pr') return alert(ctx, 'This request cannot be decided that way.', false)
    const route = row.type === 'push' && approve ? (data.action === 'pr' ? 'pr' : 'push') : undefined
    if (allowInThread && !mayAllowInThread(row)) return alert(ctx, 'This request can only be decided on its own.', false)
    // In a group the conversation is everyone's: only an admin may stop the asking for all of them.
    if (allowInThread && row.chatId < 0 && !ctx.isAdmin) return alert(ctx, 'In a group, only an admin may allow a tool for the whole conversation. Approve just this once instead.', false)
    const by = personOf(ctx)
    const decision: Decision = approve ? { type: 'approve' } : { type: 'reject', message: `Rejected by ${by.name}.` }
    const said = allowInThread ? `Approved; ${row.payload.tool} runs without asking in this conversation until /new` : route === 'pr' ? 'Approved; the pull request will be opened' : approve ? 'Approved' : 'Rejected'
    // The button is answered at once; the resume may take as long as the model and the tool take.
    const decided = await approvals.decide(row, { status: approve ? 'approved' : 'rejected', decision, by, updateId: ctx.update.update_id, allowInThread, route }, () =>
      ctx.answerCallbackQuery({ text: said.slice(0, 190) }),
    )
    if (!decided) {
      const now = await approvals.get(row.id)
      return alert(ctx, now ? closedReason(now) : 'This request is unknown.', true)
    }
  },
)

// A reply to an Edit prompt carries the changed argument.
composer.on('message:text').filter(
  (ctx) => ctx.message.reply_to_message !== undefined,
  async (ctx, next) => {
    const { approvals } = ctx.services
    const row = await approvals.byEditPrompt(ctx.chat.id, ctx.message.reply_to_message?.message_id ?? 0)
    if (!row) return next()
    if (!canDecide(ctx.from.id, row, ctx.isAdmin)) return void (await ctx.reply('Only the person who asked, or an admin, can change this request.'))
    if (!isOpen(row)) return void (await ctx.reply(closedReason(row)))
    let decision: Decision
    try {
      decision = await approvals.editDecision(row, ctx.message.text)
    } catch (err) {
      if (!(err instanceof InvalidDecisionError)) throw err
      return void (await ctx.reply(`That change cannot be used (${err.message}). Reply to the prompt again, or press Approve or Reject.`))
    }
    const decided = await approvals.decide(row, { status: 'approved', decision, by: personOf(ctx), updateId: ctx.update.update_id })
    if (!decided) await ctx.reply('That request was decided meanwhile; your change was not used.')
  },
)

/** /cancel: the chat's pending request; without one, its newest queued or running task. */
export async function cancel(ctx: CommandContext<Context>): Promise<void> {
  const { approvals, tasks } = ctx.services
  const by = personOf(ctx)
  const row = await approvals.pendingInChat(ctx.chat.id)
  if (row) {
    if (!canDecide(by.id, row, ctx.isAdmin)) return void (await ctx.reply('Only the person who asked, or an admin, can cancel this request.'))
    const decided = await approvals.decide(row, { status: 'cancelled', decision: { type: 'reject', message: 'The person cancelled this request.' }, by, updateId: ctx.update.update_id })
    if (!decided) await ctx.reply('That request was decided meanwhile.')
    return
  }
  const found = await tasks.cancelNewest(ctx.chat.id, by, ctx.isAdmin)
  if (!found) return void (await ctx.reply('There is nothing to cancel here.'))
  if (found.how === 'denied') return void (await ctx.reply('Only the person who asked, or an admin, can cancel this task.'))
  await ctx.reply(html`${found.how === 'stopping' ? 'Stopping' : 'Cancelling'} task ${code(found.taskId)}…`.html, HTML)
}

/** /approvals: every chat's pending requests, with their buttons. */
/** The tools allowed for a conversation, one line each, as Telegram HTML. Pure, for tests. */
export function allowancesText(list: readonly ToolAllowance[]): Html {
  const lines = list.map((a) => html`\n• ${code(a.tool)} in chat ${code(String(a.chatId))}, by ${code(String(a.grantedBy))} at ${utcMinute(a.grantedAt)}`)
  return html`${bold('Allowed for a conversation')} (no asking there until /new):${lines}`
}

export async function pendingApprovals(ctx: CommandContext<Context>): Promise<void> {
  const { approvals } = ctx.services
  const [rows, allowed] = await Promise.all([approvals.listPending(), approvals.allowances()])
  if (allowed.length) await ctx.reply(allowancesText(allowed).html, HTML)
  if (rows.length === 0) return void (await ctx.reply('No approvals are pending.'))
  await ctx.reply(`${rows.length} approval(s) pending:`)
  for (const row of rows) {
    await ctx.reply(html`${approvalText(row, requesterOf(row).name)}\nChat: ${code(String(row.chatId))}`.html, { ...HTML, reply_markup: approvalKeyboard(row) })
  }
}

export { composer as approvalsFeature }
