import { Composer, InlineKeyboard } from 'grammy'
import { audit } from '../../db/audit-log.ts'
import { deleteAllMemories, deleteMemory, listMemories } from '../../db/memories.ts'
import type { MemoryRow } from '../../db/memories.ts'
import type { Context } from '../context.ts'

const composer = new Composer<Context>()
export const PAGE_SIZE = 5

const own = (userId: number) => ({ scope: 'user' as const, ownerId: String(userId) })
const clip = (text: string, max = 200) => (text.length > max ? `${text.slice(0, max - 1)}…` : text)

/** One page of a person's memories and its buttons: forget one, or turn the page. Pure, for tests. */
export function memoryPage(rows: readonly MemoryRow[], total: number, page: number): { text: string; keyboard: InlineKeyboard | undefined } {
  if (total === 0) return { text: 'I remember nothing about you yet. Tell me something worth keeping, and I will remember it.', keyboard: undefined }
  const pages = Math.ceil(total / PAGE_SIZE)
  const lines = rows.map((m) => `#${m.id} ${clip(m.content)} (${m.createdAt.toISOString().slice(0, 10)})`)
  const keyboard = new InlineKeyboard()
  for (const m of rows) keyboard.text(`Forget #${m.id}`, `mem:f:${m.id}:${page}`).row()
  if (page > 0) keyboard.text('‹ Newer', `mem:p:${page - 1}`)
  if (page < pages - 1) keyboard.text('Older ›', `mem:p:${page + 1}`)
  return { text: [`Your memories (${total}), newest first, page ${page + 1} of ${pages}:`, '', ...lines].join('\n'), keyboard }
}

async function render(ctx: Context, userId: number, page: number) {
  const { rows, total } = await listMemories(ctx.services.db.pool, own(userId), page, PAGE_SIZE)
  // A page emptied by forgetting its last memory shows the one before it.
  if (rows.length === 0 && page > 0) return render(ctx, userId, page - 1)
  return memoryPage(rows, total, page)
}

composer.command('memory', async (ctx) => {
  if (!ctx.from) return
  const { text, keyboard } = await render(ctx, ctx.from.id, 0)
  await ctx.reply(text, keyboard && { reply_markup: keyboard })
})

composer.command('forget', async (ctx) => {
  if (!ctx.from) return
  if (ctx.match.trim() !== 'all') return void (await ctx.reply('Use /memory to forget one memory, or /forget all to forget everything I remember about you.'))
  const { total } = await listMemories(ctx.services.db.pool, own(ctx.from.id), 0, 1)
  if (total === 0) return void (await ctx.reply('I remember nothing about you, so there is nothing to forget.'))
  await ctx.reply(`Forget all ${total} memories I have about you? This cannot be undone.`, {
    reply_markup: new InlineKeyboard().text('Forget all', `mem:x:${ctx.from.id}`).text('Keep them', `mem:k:${ctx.from.id}`),
  })
})

// Buttons act on the presser's own memories only: the ids in the data are checked against the owner.
composer.callbackQuery(/^mem:([fpxk]):(\d{1,19})(?::(\d{1,6}))?$/, async (ctx) => {
  const [, action, value, pageText] = ctx.match
  const userId = ctx.from.id
  const pool = ctx.services.db.pool
  if ((action === 'x' || action === 'k') && Number(value) !== userId) {
    return void (await ctx.answerCallbackQuery({ text: 'Only the person whose memories these are can decide.', show_alert: true }))
  }
  if (action === 'k') {
    await ctx.answerCallbackQuery({ text: 'Kept' })
    return void (await ctx.editMessageText('Kept all your memories.'))
  }
  if (action === 'x') {
    const count = await deleteAllMemories(pool, own(userId))
    await audit(pool, { action: 'memories_forgotten', actorId: userId, chatId: ctx.chat?.id, detail: { count } })
    await ctx.answerCallbackQuery({ text: 'Forgotten' })
    return void (await ctx.editMessageText(`Forgot all ${count} memories about you.`))
  }
  let page = Number(action === 'p' ? value : (pageText ?? 0))
  if (action === 'f') {
    const gone = await deleteMemory(pool, own(userId), Number(value))
    await ctx.answerCallbackQuery({ text: gone ? `Forgot #${value}` : 'That memory is already gone.' })
  } else {
    await ctx.answerCallbackQuery()
  }
  page = Math.max(0, page)
  const { text, keyboard } = await render(ctx, userId, page)
  await ctx.editMessageText(text, keyboard && { reply_markup: keyboard }).catch((err: unknown) => ctx.log.debug({ err }, 'memory page unchanged'))
})

export { composer as memoryFeature }
