import { Composer, InlineKeyboard } from 'grammy'
import type { CommandContext } from 'grammy'
import { personalMemory } from '../../agents/memory.ts'
import type { MemoryRow } from '../../agents/memory.ts'
import { buttonCodec, intField } from '../callback-data.ts'
import type { Context } from '../context.ts'
import { code, html } from '../format/html.ts'
import type { Html } from '../format/html.ts'

const composer = new Composer<Context>()
export const PAGE_SIZE = 5

const clip = (text: string, max = 200) => (text.length > max ? `${text.slice(0, max - 1)}…` : text)

type MemoryButton = { action: 'forget'; id: number; page: number } | { action: 'page'; page: number } | { action: 'forgetAll'; userId: number } | { action: 'keep'; userId: number }

/**
 * The memory page's buttons: forget one (`mem:f:<id>:<page>`), turn the page (`mem:p:<page>`), and
 * the confirmation of /forget all (`mem:x:<owner>`, `mem:k:<owner>`), checked against the presser.
 */
export const memoryButtons = buttonCodec<MemoryButton>('mem', {
  encode: (b) => (b.action === 'forget' ? ['f', b.id, b.page] : b.action === 'page' ? ['p', b.page] : [b.action === 'forgetAll' ? 'x' : 'k', b.userId]),
  decode: ([verb, a, b, ...rest]) => {
    if (rest.length) return undefined
    const first = intField(a)
    if (first === undefined) return undefined
    if (verb === 'f') {
      const page = intField(b, 999_999)
      return page === undefined ? undefined : { action: 'forget', id: first, page }
    }
    if (b !== undefined) return undefined
    if (verb === 'p') return first <= 999_999 ? { action: 'page', page: first } : undefined
    if (verb === 'x' || verb === 'k') return { action: verb === 'x' ? 'forgetAll' : 'keep', userId: first }
    return undefined
  },
})

/** A page of memories as Telegram HTML, and its buttons. */
type Page = { text: Html; keyboard: InlineKeyboard | undefined }

/** One memory on the page: its id as code, what it says (escaped, clipped), and the day it was kept. */
const memoryLine = (m: MemoryRow) => html`\n${code(`#${m.id}`)} ${clip(m.content)} (${m.createdAt.toISOString().slice(0, 10)})`

/** One page of a person's memories (ids as code) and its buttons: forget one, or turn the page. Pure, for tests. */
export function memoryPage(rows: readonly MemoryRow[], total: number, page: number): Page {
  if (total === 0) return { text: html`I remember nothing about you yet. Tell me something worth keeping, and I will remember it.`, keyboard: undefined }
  const pages = Math.ceil(total / PAGE_SIZE)
  const keyboard = new InlineKeyboard()
  for (const m of rows) keyboard.text(`Forget #${m.id}`, memoryButtons.encode({ action: 'forget', id: m.id, page })).row()
  if (page > 0) keyboard.text('‹ Newer', memoryButtons.encode({ action: 'page', page: page - 1 }))
  if (page < pages - 1) keyboard.text('Older ›', memoryButtons.encode({ action: 'page', page: page + 1 }))
  return { text: html`Your memories (${total}), newest first, page ${page + 1} of ${pages}:\n${rows.map(memoryLine)}`, keyboard }
}

async function render(ctx: Context, userId: number, page: number): Promise<Page> {
  const { rows, total } = await ctx.services.memory.list(personalMemory(userId), page, PAGE_SIZE)
  // A page emptied by forgetting its last memory shows the one before it.
  if (rows.length === 0 && page > 0) return render(ctx, userId, page - 1)
  return memoryPage(rows, total, page)
}

/** /memory: the newest page of the person's memories. */
export async function memory(ctx: CommandContext<Context>): Promise<void> {
  if (!ctx.from) return
  const { text, keyboard } = await render(ctx, ctx.from.id, 0)
  await ctx.reply(text.html, { parse_mode: 'HTML', ...(keyboard && { reply_markup: keyboard }) })
}

/** /forget all: asks first, with buttons only the person can press. */
export async function forget(ctx: CommandContext<Context>): Promise<void> {
  if (!ctx.from) return
  if (ctx.match.trim() !== 'all') return void (await ctx.reply('Use /memory to forget one memory, or /forget all to forget everything I remember about you.'))
  const { total } = await ctx.services.memory.list(personalMemory(ctx.from.id), 0, 1)
  if (total === 0) return void (await ctx.reply('I remember nothing about you, so there is nothing to forget.'))
  await ctx.reply(`Forget all ${total} memories I have about you? This cannot be undone.`, {
    reply_markup: new InlineKeyboard()
      .text('Forget all', memoryButtons.encode({ action: 'forgetAll', userId: ctx.from.id }))
      .text('Keep them', memoryButtons.encode({ action: 'keep', userId: ctx.from.id })),
  })
}

// Buttons act on the presser's own memories only: the ids in the data are checked against the owner.
composer.on('callback_query:data').filter(
  (ctx) => memoryButtons.owns(ctx.callbackQuery.data),
  async (ctx) => {
    const button = memoryButtons.decode(ctx.callbackQuery.data)
    if (!button) return void (await ctx.answerCallbackQuery({ text: 'This button no longer works. Send /memory for a fresh page.', show_alert: true }))
    const userId = ctx.from.id
    const { memory } = ctx.services
    if ((button.action === 'forgetAll' || button.action === 'keep') && button.userId !== userId) {
      return void (await ctx.answerCallbackQuery({ text: 'Only the person whose memories these are can decide.', show_alert: true }))
    }
    if (button.action === 'keep') {
      await ctx.answerCallbackQuery({ text: 'Kept' })
      return void (await ctx.editMessageText('Kept all your memories.'))
    }
    if (button.action === 'forgetAll') {
      const count = await memory.forgetAll(personalMemory(userId), { userId, chatId: ctx.chat?.id })
      await ctx.answerCallbackQuery({ text: 'Forgotten' })
      return void (await ctx.editMessageText(`Forgot all ${count} memories about you.`))
    }
    if (button.action === 'forget') {
      const gone = await memory.forget(personalMemory(userId), button.id)
      await ctx.answerCallbackQuery({ text: gone ? `Forgot #${button.id}` : 'That memory is already gone.' })
    } else {
      await ctx.answerCallbackQuery()
    }
    const { text, keyboard } = await render(ctx, userId, button.page)
    await ctx.editMessageText(text.html, { parse_mode: 'HTML', ...(keyboard && { reply_markup: keyboard }) }).catch((err: unknown) => ctx.log.debug({ err }, 'memory page unchanged'))
  },
)

export { composer as memoryFeature }
