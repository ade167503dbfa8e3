import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import { afterEach, beforeEach, describe, expect, test } from 'vitest'
import { ADMIN_ID, Harness, USER_ID } from '../support/harness.ts'
import { waitUntil } from '../support/http.ts'
import type { ServiceProcess } from '../support/service.ts'
import { imageSize, uploaded } from '../support/telegram-emulator.ts'

let h: Harness
let service: ServiceProcess

beforeEach(async () => {
  h = await Harness.create()
})
afterEach(() => h.closeAndCheckLogs())

/** A price per token high enough that one short turn costs about a tenth of a cent. */
const PRICE = { prompt: 0.00001, completion: 0.00003 }

const say = (text: string, userId = USER_ID) => h.say(service, text, { userId })

async function rows<T extends pg.QueryResultRow>(sql: string, params: unknown[] = []): Promise<T[]> {
  if (!h.db.url) throw new Error('these tests read model_usage: set TEST_DATABASE_URL (.ci/run starts Postgres)')
  const client = new pg.Client({ connectionString: h.db.url })
  await client.connect()
  try {
    return (await client.query<T>(sql, params)).rows
  } finally {
    await client.end()
  }
}

/** The recorded calls of a person, oldest first, once there are `count` of them (the insert follows the reply). */
async function calls(count: number, userId = USER_ID) {
  const read = () =>
    rows<{ agent: string; model: string; cost: string | null; source: string | null; input: number; output: number }>(
      'select agent, model, cost_usd as cost, cost_source as source, input_tokens as input, output_tokens as output from model_usage where user_id = $1 order by id',
      [userId],
    )
  return waitUntil(async () => {
    const found = await read()
    return found.length >= count ? found : undefined
  }, `${count} recorded call(s)`)
}

const metric = async (name: string) => {
  const body = await (await fetch(`${service.url}/metrics`)).text()
  return Number(new RegExp(`^${name.replace(/[{}"]/g, (c) => `\\${c}`)} (\\S+)$`, 'm').exec(body)?.[1] ?? 0)
}

describe('what a call costs', () => {
  test('the provider reports it (OpenRouter\'s usage.cost): /usage shows the spend by agent and model, with a chart of the last 30 days', async () => {
    h.openai.prices.set('test-model', PRICE)
    service = await h.startService()
    await say('first question')
    await say('second question')
    const recorded = await calls(2)
    expect(recorded).toHaveLength(2)
    for (const c of recorded) {
      expect(c.source).toBe('provider')
      expect(Number(c.cost)).toBeCloseTo(c.input * PRICE.prompt + c.output * PRICE.completion, 10)
    }
    const total = recorded.reduce((s, c) => s + Number(c.cost), 0)
    const shown = `$${total.toFixed(total >= 0.01 ? 2 : 4)}`

    const before = h.telegram.callsOf('sendPhoto').length
    const text = await say('/usage')
    expect(text).toMatch(new RegExp(`^Your spend: today \\${shown} · this month \\${shown} · last 30 days \\${shown} \\(days in UTC\\)\\.\\n[\\d,]+ tokens \\([\\d,]+ in, [\\d,]+ out\\) in 2 model call\\(s\\)\\.`))
    expect(text).toMatch(new RegExp(`\\nassistant · test-model: \\${shown} \\(today \\${shown}, this month \\${shown}\\) · [\\d,]+ in, [\\d,]+ out, 2 call\\(s\\)$`))
    const photo = await waitUntil(() => h.telegram.callsOf('sendPhoto')[before], 'the chart')
    expect(photo.result).toBeDefined() // Telegram (the emulator) took it
    const png = uploaded(photo.params, 'photo')!.bytes
    expect(png.subarray(1, 4).toString('latin1')).toBe('PNG')
    expect(imageSize(png)).toEqual({ width: 900, height: 420 })
    expect(png.length).toBeGreaterThan(5_000) // bars, axes and words, not an empty page
    expect(await metric('mechanic_model_spend_usd_total{agent="assistant",model="test-model"}')).toBeCloseTo(total, 8)

    // An admin sees everyone's, by person.
    await say('from someone else', 2001)
    const everyone = await say('/usage', ADMIN_ID)
    expect(everyone).toMatch(/^Everyone's spend: /)
    expect(everyone).toMatch(new RegExp(`\\n${USER_ID} · assistant · test-model: \\${shown} `))
    expect(everyone).toMatch(/\n2001 · assistant · test-model: \$/)
  })

  test('a provider without costs: the price comes from its model list, else from MODEL_PRICES, else it is unknown (never zero)', async () => {
    h.openai.reportCost = false
    h.openai.prices.set('test-model', PRICE)
    const file = join(mkdtempSync(join(tmpdir(), 'prices-')), 'prices.json')
    writeFileSync(file, JSON.stringify({ 'filed-model': { inputPerMillion: 10, outputPerMillion: 30 } }))
    service = await h.startService({ MODEL_PRICES: file })
    await say('priced by the list')
    const [listed] = await calls(1)
    expect(listed?.source).toBe('price')
    expect(Number(listed?.cost)).toBeCloseTo(listed!.input * PRICE.prompt + listed!.output * PRICE.completion, 10)

    // An agent on a model the list does not price, but the file does; and one that nobody prices.
    expect(await say('/model filed-model', ADMIN_ID)).toMatch(/filed-model/)
    await say('priced by the file')
    expect(await say('/model nobody-knows', ADMIN_ID)).toMatch(/nobody-knows/)
    await say('priced by nobody')
    const [, filed, unknown] = await calls(3)
    expect(filed).toMatchObject({ model: 'filed-model', source: 'price' })
    expect(Number(filed?.cost)).toBeCloseTo((filed!.input * 10 + filed!.output * 30) / 1e6, 10)
    expect(unknown).toMatchObject({ model: 'nobody-knows', source: null, cost: null })
    const text = await say('/usage')
    expect(text).toMatch(/\n1 call\(s\) had no known price: they are not in these sums\./)
    expect(text).toMatch(/assistant · nobody-knows: \$0\.00 \(today \$0\.00, this month \$0\.00\) · [\d,]+ in, [\d,]+ out, 1 call\(s\), 1 of unknown cost/)
  })

  test('a MODEL_PRICES file that is not valid stops the start with one sentence', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'prices-')), 'prices.json')
    writeFileSync(file, JSON.stringify({ 'some-model': { inputPerMillion: 'cheap' } }))
    await expect(h.startService({ MODEL_PRICES: file })).rejects.toThrow(/MODEL_PRICES \(.*prices\.json\): some-model\.inputPerMillion/)
  })
})

describe('budgets', () => {
  test('a person over their daily cap is refused before any model request, told what was spent and when it resets; at 80 % they are warned once', async () => {
    h.openai.prices.set('test-model', PRICE)
    service = await h.startService()
    await say('a first question to learn the price of a turn')
    const [first] = await calls(1)
    // A cap a little above one turn: the next turn starts past 80 % (a warning) and ends past the cap.
    const cap = Math.ceil(Number(first!.cost) * 1.15 * 10_000) / 10_000
    expect(await say(`/budget person ${USER_ID} day ${cap}`, ADMIN_ID)).toBe(`The cap for person ${USER_ID} daily is $${cap.toFixed(cap >= 0.01 ? 2 : 4)} from now on.`)

    const warning = await say('a second question')
    expect(warning).toMatch(/^Heads-up: \$[\d.]+ of your daily budget of \$[\d.]+ is spent \(\d+ %\)\. When it is all spent, requests wait until it starts again\. It starts again on \w{3} \d+ \w{3} \d{4}, 00:00 \(UTC\)\.$/)
    await waitUntil(() => h.telegram.sentTexts(USER_ID).find((t) => t === '[assistant] echo: a second question'), 'the answer after the warning')

    const requests = h.openai.requests.length
    const refused = await say('a third question')
    expect(refused).toMatch(/^\$[\d.]+ of your daily budget of \$[\d.]+ is spent, so no model was asked\. It starts again on \w{3} \d+ \w{3} \d{4}, 00:00 \(UTC\)\.$/)
    expect(await say('a fourth question')).toMatch(/so no model was asked/)
    expect(h.openai.requests.length).toBe(requests) // no request reached the model
    expect(h.telegram.sentTexts(USER_ID).filter((t) => t.startsWith('Heads-up'))).toHaveLength(1)
    expect(await metric('mechanic_budget_refusals_total{scope="person",period="day"}')).toBe(2)
    // Someone else is not capped by it.
    expect(await say('hello', 2001)).toBe('[assistant] echo: hello')
    // /budget lists it; clearing it lets the person in again; both are audited.
    expect(await say('/budget', ADMIN_ID)).toContain(`person ${USER_ID} daily: $`)
    expect(await say(`/budget person ${USER_ID} day off`, ADMIN_ID)).toMatch(/is cleared/)
    expect(await say('a fifth question')).toBe('[assistant] echo: a fifth question')
    expect((await rows<{ action: string }>(`select action from audit_log where action like 'budget%' order by id`)).map((r) => r.action)).toEqual(['budget_set', 'budget_cleared'])
  })

  test('an agent\'s cap holds for everyone together; BUDGET_USER_DAILY is the default; /budget is for admins', async () => {
    h.openai.prices.set('test-model', PRICE)
    service = await h.startService({ BUDGET_USER_DAILY: '5' })
    expect(await say('/budget agent assistant day 0.0001')).toBe('That command is for admins only.')
    expect(await say('/budget', ADMIN_ID)).toBe('Budgets in force:\neveryone daily: $5.00 (from the environment)')
    expect(await say('/budget agent assistant day 0.0001', ADMIN_ID)).toBe('The cap for agent assistant daily is $0.0001 from now on.')
    await say('one turn is more than that')
    // The agent's budget is spent for everyone, whoever asks next.
    expect(await say('my turn', 2001)).toMatch(/^\$[\d.]+ of the assistant agent's daily budget of \$0\.0001 is spent, so no model was asked\./)
    expect(await say('/budget nonsense', ADMIN_ID)).toMatch(/^\/budget: the caps in force\./)
  })

  test('two instances on one database: a cap spent through one is refused by the other', async () => {
    h.openai.prices.set('test-model', PRICE)
    const first = await h.startService()
    const second = await h.startService()
    service = first
    expect(await say('/budget person 2001 day 0.0001', ADMIN_ID)).toMatch(/from now on/)
    // Whichever instance takes it, the turn is recorded in Postgres before the next check reads it.
    expect(await h.say(first, 'spend on the first', { userId: 2001 })).toBe('[assistant] echo: spend on the first')
    await calls(1, 2001)
    const requests = h.openai.requests.length
    expect(await h.say(second, 'and now the second', { userId: 2001 })).toMatch(/^\$[\d.]+ of your daily budget of \$0\.0001 is spent, so no model was asked\./)
    expect(h.openai.requests.length).toBe(requests)
  })
})
