import { Composer } from 'grammy'
import { addressesBot } from '../addressed.ts'
import type { Context } from '../context.ts'

const composer = new Composer<Context>()

// Stickers, locations, polls...: say what we can do rather than stay silent.
composer.on('message', async (ctx, next) => {
  if (!addressesBot(ctx)) return next() // a group's conversation among people
  ctx.services.media.received('other')
  await ctx.reply('I read text, voice messages, photos and files (text, code, PDF). Please send your request as one of those.')
})

// A button nobody owns (an old message's, or forged data): answered, so it does not spin.
composer.on('callback_query', async (ctx) => {
  ctx.log.info({ data: ctx.callbackQuery.data?.slice(0, 64) }, 'unknown button')
  await ctx.answerCallbackQuery({ text: 'This button no longer works.' })
})

// Edited messages, membership changes and kinds we do not handle end here, quietly.
composer.use((ctx) => {
  ctx.log.debug('update ignored')
})

export { composer as unhandledFeature }
