import { Bot } from 'grammy'
import type { Update } from 'grammy/types'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import type { Context } from '../../../bot/context.ts'
import { ANSWER_WITHIN_MS, answerEveryButton } from '../../../bot/middlewares/answer-buttons.ts'
import { quietLog } from '../../support/database.ts'
import { sleep } from '../../support/http.ts'
import { TelegramEmulator } from '../../support/telegram-emulator.ts'

const TOKEN = '123456:answer-buttons-test-token'
const telegram = new TelegramEmulator({ token: TOKEN })
beforeAll(() => telegram.start())
afterAll(() => telegram.close())

let nextId = 1
const press = (data: string): Update =>
  ({
    update_id: nextId,
    callback_query: { id: `q${nextId++}`, from: { id: 1, is_bot: false, first_name: 'A' }, chat_instance: 'c', data, message: { message_id: 1, date: 0, chat: { id: -5, type: 'group', title: 'G' } } },
  })

/** A real grammY bot against the emulator, with the guard first and `handler` after it. */
function botWith(handler: (ctx: Context) => Promise<void>) {
  const bot = new Bot<Context>(TOKEN, { client: { apiRoot: telegram.apiRoot }, botInfo: { id: 123456, is_bot: true, first_name: 'M', username: 'm_bot', can_join_groups: true, can_read_all_group_messages: false, supports_inline_queries: false, can_connect_to_business: false, has_main_web_app: false, has_topics_enabled: false, allows_users_to_create_topics: false } as never })
  bot.use((ctx, next) => {
    ctx.log = quietLog
    return next()
  })
  bot.use(answerEveryButton)
  bot.on('callback_query', handler)
  return bot
}

const answersTo = (update: Update) => telegram.callsOf('answerCallbackQuery').filter((c) => c.params.callback_query_id === update.callback_query?.id)

describe('answerEveryButton', () => {
  test('a slow handler: the button is answered in time, and its late answer is skipped instead of refused', async () => {
    const update = press('slow')
    const started = Date.now()
    let lateAnswer: unknown
    await botWith(async (ctx) => {
      await sleep(1500)
      lateAnswer = await ctx.answerCallbackQuery({ text: 'late' })
    }).handleUpdate(update)
    const answers = answersTo(update)
    expect(answers).toHaveLength(1)
    expect(answers[0]!.at - started).toBeGreaterThanOrEqual(ANSWER_WITHIN_MS - 50)
    expect(answers[0]!.at - started).toBeLessThan(1000)
    expect(lateAnswer).toBe(true) // the handler did not fail
  })

  test('a handler that answers itself is not answered twice; one that never answers, or throws, is answered at the end', async () => {
    const own = press('own')
    await botWith(async (ctx) => void (await ctx.answerCallbackQuery({ text: 'mine' }))).handleUpdate(own)
    expect(answersTo(own).map((c) => c.params.text)).toEqual(['mine'])

    const silent = press('silent')
    await botWith(async () => undefined).handleUpdate(silent)
    expect(answersTo(silent)).toHaveLength(1)

    const failing = press('failing')
    await expect(
      botWith(async () => {
        throw new Error('database down')
      }).handleUpdate(failing),
    ).rejects.toThrow('database down')
    expect(answersTo(failing)).toHaveLength(1)
  })
})
