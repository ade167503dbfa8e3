// npm run bench (media): what photos and voice cost beyond the work itself.
// 1. Checkpoint bytes after 20 turns with a 200 KB photo in the first: the photo stored once and
//    referenced (what Mechanic does) against the photo kept inline as a data URL in the message (the
//    obvious alternative), measured in the same run, with the time per turn of each.
// 2. Transcription overhead beyond the endpoint: a voice note's path in the service (getFile, the
//    download, the multipart upload through the openai client) against a bare fetch of the same
//    upload to the same emulated endpoint, both measured here with the endpoint answering at once.
// Embedded PGlite, and native Postgres when TEST_DATABASE_URL is set. Writes bench/results/media-*.json.
import { randomBytes } from 'node:crypto'
import { AIMessage, HumanMessage } from '@langchain/core/messages'
import type { ChatResult } from '@langchain/core/outputs'
import { Api } from 'grammy'
import { staticRoster } from '../agents/roster.ts'
import { Transcriber } from '../agents/transcriber.ts'
import { downloadFile } from '../bot/files.ts'
import { AttachmentStore } from '../graph/attachments.ts'
import { buildChatGraph } from '../graph/chat-graph.ts'
import { createCheckpointer } from '../graph/checkpointer.ts'
import { Turns } from '../graph/turns.ts'
import { TEST_DATABASE_URL, openPreparedDatabase } from '../test/support/database.ts'
import { OpenAIEmulator, spokenAudio } from '../test/support/openai-emulator.ts'
import { ScriptedChatModel } from '../test/support/scripted-model.ts'
import { TelegramEmulator } from '../test/support/telegram-emulator.ts'
import { figures, overhead, printTable, printVersus, writeResult } from './report.ts'

const TURNS = 20
const PHOTO_BYTES = 200_000
const VOICE_RUNS = 300
const WARMUP = 30

/** A chat model that answers at once and remembers nothing: the bench measures what is around it. */
class InstantModel extends ScriptedChatModel {
  constructor() {
    super([])
  }
  override _generate(): Promise<ChatResult> {
    return Promise.resolve({ generations: [{ message: new AIMessage('ok'), text: 'ok' }] })
  }
}

async function checkpointRun(embedded: boolean, byReference: boolean) {
  const db = await openPreparedDatabase({ embedded })
  try {
    const roster = staticRoster([{ name: 'assistant', systemPrompt: 'You are helpful.' }])
    const model = new InstantModel()
    const checkpointer = createCheckpointer(db.pool)
    const attachments = byReference ? new AttachmentStore(db.pool) : undefined
    const graph = buildChatGraph({ model, agents: roster, maxMessages: 40, attachments }).compile({ checkpointer })
    const turns = new Turns({ graph, checkpointer, model, agents: roster, attachments })
    const photo = randomBytes(PHOTO_BYTES)
    const thread = `bench-${byReference}`
    const ms: number[] = []
    for (let i = 1; i <= TURNS; i++) {
      const who = { chatId: 1, userId: 1, threadId: thread, turnId: String(i) }
      const t0 = performance.now()
      if (i > 1) await turns.reply({ ...who, text: `question ${i}` })
      else if (byReference) await turns.reply({ ...who, text: 'what is this?', attachments: [{ kind: 'image', mime: 'image/jpeg', data: photo }] })
      else {
        // The alternative: the data URL inside the checkpointed message itself.
        const content = [{ type: 'text', text: 'what is this?' }, { type: 'image_url', image_url: { url: `data:image/jpeg;base64,${photo.toString('base64')}` } }]
        await graph.invoke({ messages: [new HumanMessage({ id: 'turn:1', content })], activeAgent: 'assistant' }, { configurable: { thread_id: thread, chat_id: 1, user_id: 1 }, durability: 'exit' })
      }
      ms.push(performance.now() - t0)
    }
    const bytes = async (sql: string) => Number((await db.pool.query<{ n: string }>(sql, [thread])).rows[0]?.n ?? 0)
    return {
      checkpointBytes: await bytes('select coalesce(sum(octet_length(blob)), 0) as n from checkpoint_blobs where thread_id = $1'),
      attachmentBytes: await bytes('select coalesce(sum(octet_length(body)), 0) as n from attachments where thread_id = $1'),
      turnMs: figures(ms.slice(1)),
    }
  } finally {
    await db.close()
  }
}

async function voiceRun() {
  const telegram = await new TelegramEmulator({ token: '1:bench-token-for-the-emulator-only' }).start()
  const openai = await new OpenAIEmulator().start()
  try {
    const audio = spokenAudio('remind me to check the deploy tomorrow morning at nine')
    const file = telegram.addFile(audio, { ext: 'oga' })
    const api = new Api(telegram.token, { apiRoot: telegram.apiRoot })
    const transcriber = new Transcriber({ apiKey: 'sk-bench', baseUrl: openai.baseUrl, model: 'whisper-1', timeoutMs: 10_000, maxRetries: 0 })
    const bare = async () => {
      const form = new FormData()
      form.set('file', new Blob([audio]), 'voice.ogg')
      form.set('model', 'whisper-1')
      const res = await fetch(`${openai.baseUrl}/audio/transcriptions`, { method: 'POST', headers: { authorization: 'Bearer sk-bench' }, body: form })
      await res.json()
    }
    const ours = async () => {
      const bytes = await downloadFile(api, file.file_id, 20 * 1024 * 1024)
      await transcriber.transcribe(bytes, 'voice.ogg')
    }
    const bareMs: number[] = []
    const oursMs: number[] = []
    for (let i = 0; i < WARMUP + VOICE_RUNS; i++) {
      // Alternating, so both see the same machine state.
      for (const [run, into] of [[bare, bareMs], [ours, oursMs]] as const) {
        const t0 = performance.now()
        await run()
        if (i >= WARMUP) into.push(performance.now() - t0)
      }
    }
    const b = figures(bareMs)
    const o = figures(oursMs)
    return { audioBytes: audio.length, bareUploadMs: b, serviceMs: o, overheadMs: overhead(o, b) }
  } finally {
    await telegram.close()
    await openai.close()
  }
}

const engines = [true, ...(TEST_DATABASE_URL ? [false] : [])]
const checkpoints = []
for (const embedded of engines) {
  for (const byReference of [true, false]) checkpoints.push({ engine: embedded ? 'embedded PGlite' : 'native Postgres', photo: byReference ? 'stored once, referenced' : 'inline data URL', ...(await checkpointRun(embedded, byReference)) })
}
printTable([
  ['engine', 'photo', `checkpoint bytes after ${TURNS} turns`, 'attachment bytes', 'turn p50 ms', 'p99 ms'],
  ...checkpoints.map((c) => [c.engine, c.photo, c.checkpointBytes, c.attachmentBytes, c.turnMs.p50, c.turnMs.p99]),
])
const voice = await voiceRun()
printVersus('voice note path', ['bare upload to the endpoint', voice.bareUploadMs], ['getFile + download + openai client upload', voice.serviceMs])
writeResult('media', { settings: { turns: TURNS, photoBytes: PHOTO_BYTES, voiceRuns: VOICE_RUNS }, checkpoints, voice })
