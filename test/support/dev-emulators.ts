// Runs both emulators on fixed ports for local development: `npm run dev:emulators`, then start the
// service with TELEGRAM_API_ROOT and LLM_BASE_URL pointing here. Type updates with `say <chat> <text>`.
import { createInterface } from 'node:readline'
import { OpenAIEmulator } from './openai-emulator.ts'
import { TelegramEmulator } from './telegram-emulator.ts'

const token = process.env.TELEGRAM_BOT_TOKEN ?? '123456:dev-token-for-the-local-emulator-only'
const telegram = await new TelegramEmulator({ token }).start(Number(process.env.TELEGRAM_EMULATOR_PORT ?? 8081))
const openai = await new OpenAIEmulator().start(Number(process.env.OPENAI_EMULATOR_PORT ?? 8082))
console.log(`TELEGRAM_API_ROOT=${telegram.apiRoot}\nLLM_BASE_URL=${openai.baseUrl}\nTELEGRAM_BOT_TOKEN=${token}`)
console.log('type: say <chat_id> <text>   (queues a message for long polling; replies are printed)')

let updateId = 1
let seen = 0
setInterval(() => {
  for (const call of telegram.calls.slice(seen)) {
    if (call.method === 'sendMessage') console.log(`bot → ${String(call.params.chat_id)}: ${String(call.params.text)}`)
  }
  seen = telegram.calls.length
}, 200)

for await (const line of createInterface({ input: process.stdin })) {
  const m = /^say (-?\d+) (.+)$/.exec(line.trim())
  if (!m) {
    console.log('usage: say <chat_id> <text>')
    continue
  }
  const chat = Number(m[1])
  telegram.queueUpdate({
    update_id: updateId++,
    message: { message_id: updateId, date: Math.floor(Date.now() / 1000), chat: { id: chat, type: 'private' }, from: { id: chat, is_bot: false, first_name: 'Dev' }, text: m[2] },
  })
}
