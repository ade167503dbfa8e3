import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { Harness, USER_ID, WEBHOOK_SECRET } from '../support/harness.ts'
import type { ServiceProcess } from '../support/service.ts'
import type { TelegramCall } from '../support/telegram-emulator.ts'
import { parseTelegramHtml } from '../support/telegram-html.ts'

let h: Harness
let service: ServiceProcess
const FIRST_PERSON = 4001
let next = FIRST_PERSON
const person = () => next++

beforeAll(async () => {
  h = await Harness.create()
  const people = Array.from({ length: 10 }, (_, i) => FIRST_PERSON + i).join(',')
  service = await h.startService({ ALLOWED_USER_IDS: `${USER_ID},${people}` })
})
afterAll(() => h.closeAndCheckLogs())

const sentTo = (chatId: number, method = 'sendMessage') => h.telegram.callsOf(method).filter((c) => Number(c.params.chat_id) === chatId)
const typesOf = (c: TelegramCall) => (c.shown?.entities ?? []).map((e) => e.type)

const RICH = [
  '# Plan',
  '',
  'This is **bold**, *italic*, ~~gone~~ and `npm test`; a < b & c stays intact.',
  '',
  '> quoted advice',
  '',
  '- first point',
  '- second point',
  '',
  '1. one',
  '2. two',
  '',
  'See [the docs](https://example.com/docs).',
  '',
  '```ts',
  'const x: number = 1 < 2 ? 3 : 4',
  '```',
  '',
  '| name | size |',
  '| --- | ---: |',
  '| a.txt | 12 |',
  '| big.bin | 12345 |',
].join('\n')

describe('formatted replies, end to end', () => {
  test('each Markdown construct arrives as Telegram formatting that Telegram accepts', async () => {
    const userId = person()
    h.openai.enqueue({ content: RICH })
    await service.deliver(h.text('format please', { userId }), WEBHOOK_SECRET)
    const [text] = await h.telegram.waitForTexts(userId, 1)
    const call = sentTo(userId).at(-1)!
    expect(call.params.parse_mode).toBe('HTML')
    expect(typesOf(call)).toEqual(expect.arrayContaining(['bold', 'italic', 'strikethrough', 'code', 'blockquote', 'text_link', 'pre']))
    const pres = call.shown!.entities.filter((e) => e.type === 'pre')
    expect(pres.map((e) => e.language)).toContain('ts')
    expect(call.shown!.entities.find((e) => e.type === 'text_link')?.url).toBe('https://example.com/docs')
    expect(text).toContain('a < b & c stays intact')
    expect(text).toContain('const x: number = 1 < 2 ? 3 : 4')
    expect(text).not.toMatch(/\*\*|~~|^#/m)
    expect(text).toMatch(/^• first point$/m)
    expect(text).toMatch(/^1\. one$/m)
    // The table is a monospace block with its columns aligned.
    expect(text).toMatch(/^name {4}\| {2}size$/m)
    expect(text).toMatch(/^big\.bin \| 12345$/m)
  })

  test('a long formatted reply arrives in parts that each parse, with a split code block reopened', async () => {
    const userId = person()
    const code = Array.from({ length: 300 }, (_, i) => `console.log("line ${i}", ${i} < ${i + 1})`).join('\n')
    h.openai.enqueue({ content: `Intro with **bold**.\n\n\`\`\`js\n${code}\n\`\`\`\n\nThe end.` })
    await service.deliver(h.text('long one', { userId }), WEBHOOK_SECRET)
    const texts = await h.telegram.waitForTexts(userId, 3)
    const calls = sentTo(userId)
    expect(calls.length).toBeGreaterThanOrEqual(3)
    for (const c of calls) {
      expect(c.shown!.text.length).toBeLessThanOrEqual(4096)
      expect(parseTelegramHtml(String(c.params.text), { strict: true })).not.toHaveProperty('error')
    }
    // The code block continues in the next part, still a js block.
    expect(calls.slice(1).some((c) => c.shown!.entities.some((e) => e.type === 'pre' && e.language === 'js'))).toBe(true)
    expect(texts.join('\n')).toContain('console.log("line 299", 299 < 300)')
    expect(texts.at(-1)).toContain('The end.')
  })

  test('a part Telegram refuses to parse is sent again as plain text, and the log says why', async () => {
    const userId = person()
    h.openai.enqueue({ content: 'Some **bold** words & more' })
    h.telegram.fail('sendMessage', 400, { description: 'Bad Request: can\'t parse entities: Unsupported start tag "b" at byte offset 17' })
    await service.deliver(h.text('fallback', { userId }), WEBHOOK_SECRET)
    expect(await h.telegram.waitForTexts(userId, 1)).toEqual(['[assistant] Some bold words & more'])
    const [refused, plain] = sentTo(userId)
    expect(refused!.params.parse_mode).toBe('HTML')
    expect(plain!.params.parse_mode).toBeUndefined()
    await service.waitForLog((l) => l.msg === 'Telegram refused the formatting; sending the text plain' && String(l.description).includes("can't parse entities"))
  })

  test('drafts in a private chat are formatted while half-written, and every one is accepted', async () => {
    const userId = person()
    h.openai.enqueue({ content: `**Step one** is \`npm ci\`, then:\n\n\`\`\`sh\nnpm test\n\`\`\`\n\n${'More words here. '.repeat(8)}`, chunkDelayMs: 60 })
    await service.deliver(h.text('stream it', { userId }), WEBHOOK_SECRET)
    await h.telegram.waitForTexts(userId, 1)
    const drafts = sentTo(userId, 'sendMessageDraft')
    expect(drafts.length).toBeGreaterThanOrEqual(2)
    for (const d of drafts) {
      expect(d.params.parse_mode).toBe('HTML')
      expect(d.shown).toBeDefined() // accepted: a refused draft has no `shown`
    }
    expect(drafts.some((d) => typesOf(d).includes('bold'))).toBe(true)
  })

  test('a group preview is formatted and edited into the formatted answer', async () => {
    const group = -7001
    h.openai.enqueue({ content: `Use *care* with \`rm\`.\n\n${'Detail. '.repeat(40)}`, chunkDelayMs: 40 })
    await service.deliver(h.text(`@${h.telegram.username} explain`, { chatId: group }), WEBHOOK_SECRET)
    const edits = await (async () => {
      for (let i = 0; i < 200; i++) {
        const e = h.telegram.callsOf('editMessageText').filter((c) => Number(c.params.chat_id) === group && c.shown)
        if (e.some((c) => c.shown!.text.endsWith('Detail.'))) return e
        await new Promise((r) => setTimeout(r, 50))
      }
      throw new Error('no final edit')
    })()
    const preview = sentTo(group)[0]!
    expect(preview.params.parse_mode).toBe('HTML')
    expect(typesOf(edits.at(-1)!)).toEqual(expect.arrayContaining(['italic', 'code']))
    expect(sentTo(group)).toHaveLength(1)
  })
})
