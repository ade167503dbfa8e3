import type { CommandContext } from 'grammy'
import { coder } from '../../agents/coder.ts'
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

/** /code <request>: hands the request to the coder agent, which plans it and asks for approval. */
export async function code(ctx: Ctx): Promise<void> {
  const request = ctx.match.trim()
  if (!request) return void (await ctx.reply('Tell me what to change, for example: /code add a NOTES.md saying hello'))
  await converse(ctx, { text: request }, coder.name)
}

/** /tasks: the chat's recent tasks (in as many messages as it takes). */
export async function tasks(ctx: Ctx): Promise<void> {
  const list = await ctx.services.tasks.listForChat(ctx.chat.id)
  if (list.length === 0) return void (await ctx.reply('No tasks in this chat yet. Ask for a change with /code.'))
  const text = html`Recent tasks:${list.map((t) => html`\n${taskLine(t)}`)}`
  for (const part of splitHtml(text.html)) await ctx.reply(part, { parse_mode: 'HTML' })
}
