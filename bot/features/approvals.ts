import { Composer } from 'grammy'
import { findByEditPrompt, getApproval, listPending, pendingForChat, setEditPrompt } from '../../db/approvals.ts'
import type { ApprovalRow } from '../../db/approvals.ts'
import { InvalidDecisionError, validateDecision } from '../../graph/approval.ts'
import type { Decision } from '../../domain/approvals.ts'
import { canDecide, decideAndSettle, flowDeps, settle, who } from '../approvals/flow.ts'
import { approvalKeyboard, approvalText, parseCallbackData, statusWord } from '../approvals/message.ts'
import type { Context } from '../context.ts'
import { cancelChatTask } from '../../db/tasks.ts'

const composer = new Composer<Context>()

async function alert(ctx: Context, text: string, removeButtons: boolean): Promise<void> {
  await ctx.answerCallbackQuery({ text, show_alert: true })
  if (removeButtons) await ctx.editMessageReplyMarkup({ reply_markup: undefined }).catch((err: unknown) => ctx.log.debug({ err }, 'buttons already gone'))
}

/** Why a request can no longer be decided, for the person who pressed. */
function closedReason(row: ApprovalRow): string {
  if (row.status === 'pending') return 'This request has expired.'
  return `This request was already ${statusWord(row.status)}.`
}

composer.callbackQuery(/^ap:/, async (ctx) => {
  const data = parseCallbackData(ctx.callbackQuery.data)
  const row = data && (await getApproval(ctx.services.db.pool, data.id))
  if (!data || !row) return alert(ctx, 'This request is unknown. Nothing was done.', true)
  if (!canDecide(ctx.from.id, row, ctx.isAdmin)) return alert(ctx, 'Only the person who asked, or an admin, can decide this.', false)

  if (row.status !== 'pending' || row.expiresAt <= new Date()) {
    // A retry of the very update that decided it: finish the resume that was cut short.
    if (row.decidedByUpdate === ctx.update.update_id && !row.resumedAt) {
      await ctx.answerCallbackQuery()
      return settle(flowDeps(ctx), row, who(ctx))
    }
    return alert(ctx, closedReason(row), true)
  }

  if (data.action === 'edit') {
    if (!row.payload.editableArg) return alert(ctx, 'This request cannot be edited.', false)
    await ctx.answerCallbackQuery({ text: 'Reply to my next message with your changes.' })
    const prompt = await ctx.api.sendMessage(row.chatId, `Reply to this message with the new ${row.payload.editableArg} for ${row.payload.tool}.`, {
      reply_markup: { force_reply: true, selective: true, input_field_placeholder: row.payload.editableArg },
      ...(row.messageId !== null && { reply_parameters: { message_id: row.messageId, allow_sending_without_reply: true } }),
    })
    await setEditPrompt(ctx.services.db.pool, row.id, prompt.message_id)
    return
  }

  const approve = data.action === 'approve'
  const decision: Decision = approve ? { type: 'approve' } : { type: 'reject', message: `Rejected by ${who(ctx).name}.` }
  // The button is answered at once; the resume may take as long as the model and the tool take.
  const decided = await decideAndSettle(ctx, row, approve ? 'approved' : 'rejected', decision, () => ctx.answerCallbackQuery({ text: approve ? 'Approved' : 'Rejected' }))
  if (!decided) {
    const now = await getApproval(ctx.services.db.pool, row.id)
    return alert(ctx, now ? closedReason(now) : 'This request is unknown.', true)
  }
})

// A reply to an Edit prompt carries the changed argument.
composer.on('message:text').filter(
  (ctx) => ctx.message.reply_to_message !== undefined,
  async (ctx, next) => {
    const promptId = ctx.message.reply_to_message?.message_id ?? 0
    const row = await findByEditPrompt(ctx.services.db.pool, ctx.chat.id, promptId)
    if (!row) return next()
    if (!canDecide(ctx.from.id, row, ctx.isAdmin)) return void (await ctx.reply('Only the person who asked, or an admin, can change this request.'))
    if (row.status !== 'pending' || row.expiresAt <= new Date()) return void (await ctx.reply(closedReason(row)))
    const editable = row.payload.editableArg ?? ''
    const decision: Decision = { type: 'edit', args: { ...row.payload.args, [editable]: ctx.message.text } }
    const pending = await ctx.services.conversation.pending(row.threadId)
    try {
      if (!pending || pending.interruptId !== row.interruptId) throw new InvalidDecisionError('the request is no longer waiting')
      validateDecision(decision, pending.request, ctx.services.conversation.tool(row.payload.tool))
    } catch (err) {
      if (!(err instanceof InvalidDecisionError)) throw err
      return void (await ctx.reply(`That change cannot be used (${err.message}). Reply to the prompt again, or press Approve or Reject.`))
    }
    const decided = await decideAndSettle(ctx, row, 'approved', decision)
    if (!decided) await ctx.reply('That request was decided meanwhile; your change was not used.')
  },
)

composer.command('cancel', async (ctx) => {
  const row = await pendingForChat(ctx.services.db.pool, ctx.chat.id)
  if (!row) return cancelTask(ctx)
  if (!canDecide(ctx.from?.id ?? 0, row, ctx.isAdmin)) return void (await ctx.reply('Only the person who asked, or an admin, can cancel this request.'))
  const decided = await decideAndSettle(ctx, row, 'cancelled', { type: 'reject', message: 'The person cancelled this request.' })
  if (!decided) await ctx.reply('That request was decided meanwhile.')
})

/** Without a pending request, /cancel stops the chat's newest queued or running task. */
async function cancelTask(ctx: Context): Promise<void> {
  const found = ctx.chat && (await cancelChatTask(ctx.services.db.pool, ctx.chat.id, (task) => canDecide(ctx.from?.id ?? 0, task, ctx.isAdmin)))
  if (!found) return void (await ctx.reply('There is nothing to cancel here.'))
  if (found.how === 'denied') return void (await ctx.reply('Only the person who asked, or an admin, can cancel this task.'))
  ctx.services.wakeTasks()
  await ctx.reply(found.how === 'stopping' ? `Stopping task ${found.task.id}…` : `Cancelling task ${found.task.id}…`)
}

// Admins only: the gate is in admin.ts.
composer.command('approvals', async (ctx) => {
  const rows = await listPending(ctx.services.db.pool)
  if (rows.length === 0) return void (await ctx.reply('No approvals are pending.'))
  await ctx.reply(`${rows.length} approval(s) pending:`)
  for (const row of rows) {
    await ctx.reply(`${approvalText(row, row.payload.requesterName ?? String(row.requesterId))}\nChat: ${row.chatId}`, { reply_markup: approvalKeyboard(row) })
  }
})

export { composer as approvalsFeature }
