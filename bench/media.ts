// npm run bench (media): what photos and voice cost beyond the work itself.
// 1. Checkpoint bytes after 20 turns with a 200 KB photo in the first: the photo stored once and
//    referenced (what Mechanic does) against the photo kept inline as a data URL in the message (the
//    obvious alternative), measured in the same run, with the time per turn of each.
// 2. Transcription overhead beyond the endpoint: a voice note's path in the service (getFile, the
//    download, the multipart upload through the openai client) against a bare fetch of the same
//    upload to the same emulated endpoint, both measured here with the endpoint answering at once.
// 3. PDFs: a decompression bomb (1.1 GB of zeros in a 1 MB file) refused by the reader in bubblewrap
//    with its limits: the time to refuse it, this process's RSS growth while it runs and the reader's
//    own peak (sampled); and a normal PDF read through the child (in bubblewrap, and with the sandbox
//    off) against pdf.js in this very process (the old way, before the bomb), alternating.
// Embedded PGlite, and native Postgres when TEST_DATABASE_URL is set. Writes bench/results/media-*.json.
import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { AIMessage, HumanMessage } from '@langchain/core/messages'
import type { ChatResult } from '@langchain/core/outputs'
import { Api } from 'grammy'
import { extractText, getDocumentProxy } from 'unpdf'
import { staticRoster } from '../agents/roster.ts'
import { Transcriber } from '../agents/transcriber.ts'
import { downloadFile } from '../bot/files.ts'
import { AttachmentStore } from '../graph/attachments.ts'
import { processesBelow } from '../test/support/processes.ts'
import { Sandbox } from '../sandbox/sandbox.ts'
import { readDocument } from '../services/documents.ts'
import { buildChatGraph } from '../graph/chat-graph.ts'
import { createCheckpointer } from '../graph/checkpointer.ts'
import { Turns } from '../graph/turns.ts'
import { TEST_DATABASE_URL, openPreparedDatabase } from '../test/support/database.ts'
import { OpenAIEmulator, spokenAudio } from '../test/support/openai-emulator.ts'
import { makeBombPdf, makePdf } from '../test/support/pdf.ts'
import { ScriptedChatModel } from '../test/support/scripted-model.ts'
import { TelegramEmulator } from '../test/support/telegram-emulator.ts'
import { figures, overhead, printTable, printVersus, writeResult } from './report.ts'

const TURNS = 20
const PHOTO_BYTES = 200_000
const VOICE_RUNS = 300
const WARMUP = 30
const BOMB_RUNS = 7
const PDF_RUNS = 30
const PDF_WARMUP = 3

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

/** Resident bytes of the processes below this one running the PDF reader (its high-water mark, VmHWM), summed. */
function readerPeakBytes(): number {
  let total = 0
  for (const pid of processesBelow(process.pid, (argv) => argv.some((a) => a.includes('pdf-child')))) {
    try {
      total += Number(/^VmHWM:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) * 1024
    } catch {
      // gone meanwhile
    }
  }
  return total
}

async function pdfRun() {
  const inside = new Sandbox({ mode: 'on', protect: [], path: process.env.PATH })
  const outside = new Sandbox({ mode: 'off', protect: [], path: process.env.PATH })
  if ((await inside.probe()).state !== 'on') throw new Error('bubblewrap does not work here: the PDF reader cannot be measured in it')
  const asPdf = { name: 'bench.pdf', mime: 'application/pdf' }
  const bomb = await makeBombPdf()
  const refuseMs: number[] = []
  const parentGrowthMb: number[] = []
  const readerPeakMb: number[] = []
  const refusals = new Set<string>()
  for (let i = 0; i < BOMB_RUNS; i++) {
    const before = process.memoryUsage().rss
    let parentPeak = before
    let readerPeak = 0
    const sample = setInterval(() => {
      parentPeak = Math.max(parentPeak, process.memoryUsage().rss)
      readerPeak = Math.max(readerPeak, readerPeakBytes())
    }, 10)
    const t0 = performance.now()
    const read = await readDocument(bomb, asPdf, 10_000, { sandbox: inside })
    refuseMs.push(performance.now() - t0)
    clearInterval(sample)
    refusals.add('refused' in read ? read.refused : 'read')
    parentGrowthMb.push((parentPeak - before) / 2 ** 20)
    readerPeakMb.push(readerPeak / 2 ** 20)
  }
  const small = makePdf([['Invoice 42', 'Total: 17.50 EUR'], ['Page two']])
  const line = (p: number, l: number) => `Page ${p} line ${l}: the quick brown fox jumps over the lazy dog.`
  const hundred = makePdf(Array.from({ length: 100 }, (_, p) => Array.from({ length: 50 }, (_, l) => line(p, l))))
  const inProcess = async (bytes: Buffer) => {
    const pdf = await getDocumentProxy(new Uint8Array(bytes))
    await extractText(pdf, { mergePages: true })
    await pdf.loadingTask.destroy()
  }
  const reads = []
  for (const [name, bytes] of [['2 pages', small], ['100 pages', hundred]] as const) {
    const ways = [
      ['pdf.js in this process (the old way)', () => inProcess(bytes)],
      ['child, sandbox off (prlimit)', () => readDocument(bytes, asPdf, 10_000, { sandbox: outside })],
      ['child in bubblewrap', () => readDocument(bytes, asPdf, 10_000, { sandbox: inside })],
    ] as const
    const ms: number[][] = ways.map(() => [])
    for (let i = 0; i < PDF_WARMUP + PDF_RUNS; i++) {
      // Alternating, so all see the same machine state.
      for (const [w, [, run]] of ways.entries()) {
        const t0 = performance.now()
        await run()
        if (i >= PDF_WARMUP) ms[w]!.push(performance.now() - t0)
      }
    }
    const base = figures(ms[0]!)
    reads.push({ pdf: name, bytes: bytes.length, ways: ways.map(([way], w) => ({ way, ms: figures(ms[w]!), overMs: overhead(figures(ms[w]!), base) })) })
  }
  return {
    bomb: { fileBytes: bomb.length, decodedBytes: 1_100_000_000, outcomes: [...refusals], refuseMs: figures(refuseMs), parentRssGrowthMb: figures(parentGrowthMb, 1), readerPeakRssMb: figures(readerPeakMb, 1) },
    reads,
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
const pdf = await pdfRun()
console.log()
printTable([
  [`PDF bomb (${(pdf.bomb.fileBytes / 2 ** 20).toFixed(1)} MB file, ${pdf.bomb.decodedBytes / 1e9} GB decoded), ${BOMB_RUNS} runs`, 'p50', 'p99'],
  [`time to refuse (${pdf.bomb.outcomes.join(', ')}), ms`, pdf.bomb.refuseMs.p50, pdf.bomb.refuseMs.p99],
  ['this process: RSS growth while refusing, MB', pdf.bomb.parentRssGrowthMb.p50, pdf.bomb.parentRssGrowthMb.p99],
  ["the reader's peak RSS (sampled), MB", pdf.bomb.readerPeakRssMb.p50, pdf.bomb.readerPeakRssMb.p99],
])
for (const r of pdf.reads) {
  console.log()
  printTable([[`a ${r.pdf} PDF (${r.bytes} bytes)`, 'p50 ms', 'p99 ms', 'over pdf.js in process p50', 'p99'], ...r.ways.map((w) => [w.way, w.ms.p50, w.ms.p99, w.overMs.p50, w.overMs.p99])])
}
writeResult('media', { settings: { turns: TURNS, photoBytes: PHOTO_BYTES, voiceRuns: VOICE_RUNS, bombRuns: BOMB_RUNS, pdfRuns: PDF_RUNS }, checkpoints, voice, pdf })
