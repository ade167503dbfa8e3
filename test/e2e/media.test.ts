import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { Harness, LLM_KEY, USER_ID, WEBHOOK_SECRET } from '../support/harness.ts'
import { imagesIn, lastUserText, spokenAudio } from '../support/openai-emulator.ts'
import { makeBombPdf, makePdf } from '../support/pdf.ts'
import type { ServiceProcess } from '../support/service.ts'
import { sleep, waitUntil } from '../support/http.ts'
import { processesBelow } from '../support/processes.ts'

let h: Harness
let service: ServiceProcess
const GROUP = -4242

beforeAll(async () => {
  h = await Harness.create()
  // Each test talks from a person of its own, so each has a conversation of its own.
  const people = Array.from({ length: 30 }, (_, i) => FIRST_PERSON + i).join(',')
  service = await h.startService({ DOCUMENT_MAX_MB: '1', TRANSCRIPTION_MODEL: 'whisper-test', ALLOWED_USER_IDS: `${USER_ID},${people}` })
})
afterAll(() => h.closeAndCheckLogs())

const FIRST_PERSON = 3001
/** A fresh private chat per test (its own conversation), from an allowed person. */
let nextChat = FIRST_PERSON
const person = () => nextChat++

const metric = async (name: string) => {
  const body = await (await fetch(`${service.url}/metrics`)).text()
  return Number(new RegExp(`^${name.replace(/[{}"]/g, (c) => `\\${c}`)} (\\S+)$`, 'm').exec(body)?.[1] ?? 0)
}

const voiceOf = (words: string) => {
  const file = h.telegram.addFile(spokenAudio(words), { ext: 'oga' })
  return { voice: { ...file, duration: 3, mime_type: 'audio/ogg' } }
}

const photoOf = (bytes: Buffer) => {
  const big = h.telegram.addFile(bytes, { ext: 'jpg' })
  const thumb = h.telegram.addFile(bytes.subarray(0, 100), { ext: 'jpg' })
  return [{ ...thumb, width: 90, height: 60 }, { ...big, width: 1280, height: 853 }]
}

describe('voice notes', () => {
  test('are transcribed, echoed back quoted, and answered from the transcript', async () => {
    const userId = person()
    const before = await metric('mechanic_transcription_seconds_count{outcome="ok"}')
    await service.deliver(h.media(voiceOf('what time is it in Tokyo'), { userId }), WEBHOOK_SECRET)
    const [echo, answer] = await h.telegram.waitForTexts(userId, 2)
    expect(echo).toContain('what time is it in Tokyo')
    expect(answer).toBe('[assistant] echo: what time is it in Tokyo')
    const t = h.openai.transcriptions.at(-1)!
    expect(t).toMatchObject({ model: 'whisper-test', authorization: `Bearer ${LLM_KEY}` })
    expect(t.bytes).toBe(spokenAudio('what time is it in Tokyo').length)
    expect(await metric('mechanic_transcription_seconds_count{outcome="ok"}')).toBe(before + 1)
    expect(await metric('mechanic_media_received_total{kind="voice"}')).toBeGreaterThanOrEqual(1)
    // The transcription is recorded like a model call: /usage shows it, with the speech's length.
    await service.deliver(h.text('/usage', { userId }), WEBHOOK_SECRET)
    expect((await h.telegram.waitForTexts(userId, 3))[2]).toMatch(/transcription · whisper-test: \$0\.00 \(today \$0\.00, this month \$0\.00\) · 0 in, 0 out, 1 call\(s\), 2 s of speech, 1 of unknown cost/)
  })

  test('an endpoint without transcription gets one sentence, and no model call', async () => {
    const userId = person()
    h.openai.transcription = { status: 404 }
    try {
      const calls = h.openai.requests.length
      await service.deliver(h.media(voiceOf('hello'), { userId }), WEBHOOK_SECRET)
      expect(await h.telegram.waitForTexts(userId, 1)).toEqual(['Voice messages are not set up on this bot (its speech-to-text service is not available). Please type your message instead.'])
      expect(h.openai.requests.length).toBe(calls)
      expect(await metric('mechanic_transcription_failures_total{kind="not_set_up"}')).toBeGreaterThanOrEqual(1)
    } finally {
      h.openai.transcription = {}
    }
  })

  test('a failing endpoint (503 after retries) gets one sentence; the next voice note works', async () => {
    const userId = person()
    h.openai.transcription = { status: 503 }
    await service.deliver(h.media(voiceOf('first try'), { userId }), WEBHOOK_SECRET)
    expect(await h.telegram.waitForTexts(userId, 1)).toEqual(['The speech-to-text service is not answering right now. Please try again in a minute, or type your message.'])
    h.openai.transcription = {}
    await service.deliver(h.media(voiceOf('second try'), { userId }), WEBHOOK_SECRET)
    expect((await h.telegram.waitForTexts(userId, 3))[2]).toBe('[assistant] echo: second try')
  })

  test('in a group, a voice note is handled only as a reply to the bot', async () => {
    const before = h.openai.transcriptions.length
    await service.deliver(h.media(voiceOf('people talking'), { chatId: GROUP }), WEBHOOK_SECRET)
    await service.deliver(h.media(voiceOf('bot, summarise'), { chatId: GROUP, replyTo: 1 }), WEBHOOK_SECRET)
    const texts = await h.telegram.waitForTexts(GROUP, 2)
    expect(texts[1]).toBe('[assistant] echo: bot, summarise')
    expect(h.openai.transcriptions.slice(before).map((t) => t.bytes)).toEqual([spokenAudio('bot, summarise').length])
  })
})

describe('photos', () => {
  test('a photo with a caption reaches the model as an image part and the caption', async () => {
    const userId = person()
    const bytes = randomBytes(30_000)
    const calls = h.openai.requests.length
    await service.deliver(h.media({ photo: photoOf(bytes) }, { userId, caption: 'what is on this?' }), WEBHOOK_SECRET)
    await h.telegram.waitForTexts(userId, 1)
    const request = h.openai.requests[calls]!
    expect(imagesIn(request)).toEqual([`data:image/jpeg;base64,${bytes.toString('base64')}`])
    expect(lastUserText(request)).toBe('what is on this?')
  })

  test('an album is one turn with all its photos', async () => {
    const userId = person()
    const photos = [randomBytes(2000), randomBytes(2000), randomBytes(2000)]
    const calls = h.openai.requests.length
    const updates = photos.map((p, i) => h.media({ photo: photoOf(p), media_group_id: `album-${userId}` }, { userId, ...(i === 0 && { caption: 'compare these' }) }))
    for (const u of updates) await service.deliver(u, WEBHOOK_SECRET)
    await h.telegram.waitForTexts(userId, 1)
    await new Promise((r) => setTimeout(r, 500))
    expect(h.telegram.sentTexts(userId)).toHaveLength(1)
    expect(h.openai.requests.length).toBe(calls + 1)
    expect(imagesIn(h.openai.requests[calls]!)).toEqual(photos.map((p) => `data:image/jpeg;base64,${p.toString('base64')}`))
  })

  test('a model that cannot read images: one sentence, and the next text turn still works', async () => {
    const userId = person()
    h.openai.textOnlyModels.add('test-model')
    try {
      await service.deliver(h.media({ photo: photoOf(randomBytes(500)) }, { userId, caption: 'see?' }), WEBHOOK_SECRET)
      expect(await h.telegram.waitForTexts(userId, 1)).toEqual(['This model cannot read images. Please describe it in words, or ask an admin for a model that takes images (/model).'])
    } finally {
      h.openai.textOnlyModels.clear()
    }
    await service.deliver(h.text('hello again', { userId }), WEBHOOK_SECRET)
    expect((await h.telegram.waitForTexts(userId, 2))[1]).toBe('[assistant] echo: hello again')
  })
})

describe('documents', () => {
  test('a source file reaches the model as text with its name', async () => {
    const userId = person()
    const code = 'function add(a, b) {\n  return a - b // bug?\n}\n'
    const calls = h.openai.requests.length
    const file = h.telegram.addFile(Buffer.from(code), { ext: 'js' })
    await service.deliver(h.media({ document: { ...file, file_name: 'add.js', mime_type: 'text/javascript' } }, { userId, caption: 'find the bug' }), WEBHOOK_SECRET)
    await h.telegram.waitForTexts(userId, 1)
    const text = lastUserText(h.openai.requests[calls]!)
    expect(text).toContain('find the bug')
    expect(text).toContain('"add.js"')
    expect(text).toContain(code)
  })

  test('a PDF reaches the model as its extracted text', async () => {
    const userId = person()
    const calls = h.openai.requests.length
    const file = h.telegram.addFile(makePdf([['Quarterly report'], ['Revenue grew 12 percent']]), { ext: 'pdf' })
    await service.deliver(h.media({ document: { ...file, file_name: 'q3.pdf', mime_type: 'application/pdf' } }, { userId }), WEBHOOK_SECRET)
    await h.telegram.waitForTexts(userId, 1)
    const text = lastUserText(h.openai.requests[calls]!)
    expect(text).toContain('Quarterly report')
    expect(text).toContain('Revenue grew 12 percent')
  })

  test('a file over the cap is refused from its declared size, before any download', async () => {
    const userId = person()
    const getFiles = h.telegram.callsOf('getFile').length
    const huge = h.telegram.addFile(Buffer.from('x'), { ext: 'zip', size: 30 * 1024 * 1024 })
    const overCap = h.telegram.addFile(Buffer.from('y'), { ext: 'txt', size: 2 * 1024 * 1024 })
    await service.deliver(h.media({ document: { ...huge, file_name: 'backup.zip', mime_type: 'application/zip' } }, { userId }), WEBHOOK_SECRET)
    await service.deliver(h.media({ document: { ...overCap, file_name: 'log.txt', mime_type: 'text/plain' } }, { userId }), WEBHOOK_SECRET)
    expect(await h.telegram.waitForTexts(userId, 2)).toEqual(['That file is 30 MB; I can read files up to 1 MB.', 'That file is 2 MB; I can read files up to 1 MB.'])
    expect(h.telegram.callsOf('getFile').length).toBe(getFiles)
  })

  test('an unsupported type gets a sentence naming what is supported', async () => {
    const userId = person()
    const file = h.telegram.addFile(Buffer.from([0x50, 0x4b, 3, 4]), { ext: 'zip' })
    await service.deliver(h.media({ document: { ...file, file_name: 'a.zip', mime_type: 'application/zip' } }, { userId }), WEBHOOK_SECRET)
    expect(await h.telegram.waitForTexts(userId, 1)).toEqual(['I can read text, Markdown, source code, JSON, CSV and PDF files, and images; "a.zip" is none of those.'])
    await waitUntil(async () => (await service.health()).status === 200, 'health')
  })

  test('a decompression-bomb PDF gets one sentence, is not retried, leaves the service small, and the next message is answered at once', async () => {
    const userId = person()
    // 900 MB of zeros, deflated under this service's 1 MB cap: more than the PDF reader may hold.
    const bomb = await makeBombPdf({ decodedBytes: 900_000_000 })
    expect(bomb.length).toBeLessThan(1024 * 1024)
    const pid = service.child.pid!
    // The service's own node process: the reader is a child of it, and a child's memory is not in this.
    const rss = () => Number(/^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]) * 1024
    const rssBefore = rss()
    let rssPeak = rssBefore
    const sampler = setInterval(() => (rssPeak = Math.max(rssPeak, rss())), 20)
    const calls = h.openai.requests.length
    const file = h.telegram.addFile(bomb, { ext: 'pdf' })
    const update = h.media({ document: { ...file, file_name: 'bomb.pdf', mime_type: 'application/pdf' } }, { userId })
    const started = Date.now()
    try {
      await service.deliver(update, WEBHOOK_SECRET)
      expect(await h.telegram.waitForTexts(userId, 1, 30_000)).toEqual([
        'I stopped reading "bomb.pdf": it needs more memory or time than I allow a file. If it is a long PDF, try sending only the pages you need.',
      ])
    } finally {
      clearInterval(sampler)
    }
    expect(Date.now() - started).toBeLessThan(20_000)
    expect(rssPeak - rssBefore).toBeLessThan(100 * 1024 * 1024)
    expect(h.openai.requests.length).toBe(calls)
    // Not retried: the update ended at its first attempt (a retry would come a second later).
    await service.drained(10_000)
    await sleep(2500)
    expect(h.telegram.sentTexts(userId)).toHaveLength(1)
    const ofUpdate = service.logs().filter((l) => l.updateId === update.update_id)
    expect(ofUpdate.filter((l) => l.msg === 'update failed')).toEqual([])
    // Each attempt would read the file again and log it: one line, one attempt.
    expect(ofUpdate.filter((l) => l.msg === 'document not read').map((l) => l.refused)).toEqual(['too_large'])
    // And the service answers the next message at once.
    const asked = Date.now()
    await service.deliver(h.text('still there?', { userId }), WEBHOOK_SECRET)
    expect((await h.telegram.waitForTexts(userId, 2))[1]).toBe('[assistant] echo: still there?')
    expect(Date.now() - asked).toBeLessThan(3000)
  })

  test('two bombs at once, from two people: read one after the other (one reader at a time), each refused in one sentence', async () => {
    const [first, second] = [person(), person()]
    const bomb = await makeBombPdf({ decodedBytes: 900_000_000 })
    const pid = service.child.pid!
    let most = 0
    const sampler = setInterval(() => (most = Math.max(most, readersBelow(pid))), 10)
    try {
      await Promise.all([first, second].map((userId) => {
        const file = h.telegram.addFile(bomb, { ext: 'pdf' })
        return service.deliver(h.media({ document: { ...file, file_name: 'bomb.pdf', mime_type: 'application/pdf' } }, { userId }), WEBHOOK_SECRET)
      }))
      for (const userId of [first, second]) expect(await h.telegram.waitForTexts(userId, 1, 30_000)).toHaveLength(1)
    } finally {
      clearInterval(sampler)
    }
    expect(most).toBe(1)
  })
})

/** How many PDF readers (node on pdf-child, inside bwrap or not) run below `root` now. */
const readersBelow = (root: number): number => processesBelow(root, (argv) => argv[0] === process.execPath && argv.some((a) => a.endsWith('/pdf-child.ts'))).length
