import { afterEach, beforeEach, describe, expect, test } from 'vitest'
import { ADMIN_ID, Harness, USER_ID, WEBHOOK_SECRET } from '../support/harness.ts'
import { createRemote } from '../support/git.ts'
import { lastUserText } from '../support/openai-emulator.ts'
import type { ChatRequest, ModelTurn } from '../support/openai-emulator.ts'
import type { ServiceProcess } from '../support/service.ts'

let h: Harness
let service: ServiceProcess
beforeEach(async () => {
  h = await Harness.create()
})
afterEach(() => h.closeAndCheckLogs())

const systemOf = (req: ChatRequest | undefined) => {
  const content = req?.messages.find((m) => m.role === 'system')?.content
  return typeof content === 'string' ? content : ''
}
const toolNames = (req: ChatRequest | undefined) => (req?.tools ?? []).map((t) => (t as { function: { name: string } }).function.name)

const say = (text: string, opts: { chatId?: number; userId?: number } = {}) => h.say(service, text, opts)

/** Presses the button labelled `label` on the newest message that has it, and returns the next message. */
async function press(label: string, opts: { chatId?: number; userId?: number } = {}): Promise<string> {
  const chatId = opts.chatId ?? opts.userId ?? USER_ID
  const before = h.telegram.sentTexts(chatId).length
  await service.deliver(h.pressNewest(label, { chatId, userId: opts.userId ?? USER_ID }), WEBHOOK_SECRET)
  return (await h.telegram.waitForTexts(chatId, before + 1))[before]!
}

describe('several agents in one chat', () => {
  // The coder needs a repository to exist; these tests never run aider.
  const withCoder = () => h.startService({ GIT_REMOTE_URL: createRemote().url })

  test('@name addresses an agent with one model call and no routing call; /agent and /agents switch the chat', async () => {
    service = await withCoder()
    expect(await say('@coder what can you change?')).toBe('[coder] echo: @coder what can you change?')
    expect(h.openai.requests).toHaveLength(1) // routing by address asks no model
    expect(systemOf(h.openai.requests[0])).toMatch(/You are the coder of Mechanic/)
    expect(toolNames(h.openai.requests[0])).toContain('request_code_change')

    // Unaddressed: the chat's active agent, the assistant until switched.
    expect(await say('hello')).toBe('[assistant] echo: hello')
    expect(systemOf(h.openai.requests[1])).toMatch(/helpful assistant/)

    expect(await say('/agent coder')).toMatch(/^You are now talking to coder/)
    expect(await say('and now?')).toBe('[coder] echo: and now?')

    // /agents shows both with buttons, the active one marked; a press switches back.
    expect(await say('/agents')).toMatch(/▶ coder \(active\)[\s\S]*• assistant|• assistant[\s\S]*▶ coder \(active\)/)
    const list = await h.telegram.waitForButtons(USER_ID, 1)
    expect(Object.keys(list.buttons).sort()).toEqual(['assistant', '✓ coder'])
    await service.deliver(h.press(list.messageId, list.buttons.assistant!), WEBHOOK_SECRET)
    await h.telegram.waitForCall('editMessageText', (c) => c.params.message_id === list.messageId && /▶ assistant \(active\)/.test(c.shown?.text ?? ''))
    expect(await say('back?')).toBe('[assistant] echo: back?')

    expect(await say('/agent nobody')).toBe('There is no agent called nobody. /agents lists them.')
  })

  test('an agent hands the turn to another; the reply says who answered', async () => {
    h.openai.respondWith((req): ModelTurn => {
      const last = req.messages.at(-1)
      if (/helpful assistant/.test(systemOf(req)) && last?.role === 'user') return { toolCalls: [{ name: 'hand_off', args: { agent: 'coder', reason: 'code question' } }] }
      return { content: `coder here: ${lastUserText(req)}` }
    })
    service = await withCoder()
    expect(await say('fix the README please')).toBe('[coder] coder here: fix the README please')
    expect(toolNames(h.openai.requests[0])).toContain('hand_off')
    expect(systemOf(h.openai.requests[1])).toMatch(/You are the coder of Mechanic/)
    // The hand-off is for this turn: the chat still talks to its active agent.
    h.openai.respondWith((req) => ({ content: `echo: ${lastUserText(req)}` }))
    expect(await say('thanks')).toBe('[assistant] echo: thanks')
  })
})

describe('agent wizards', () => {
  test('/newagent: bad input is asked again, a restart in the middle keeps the wizard, the agent answers to @name', async () => {
    service = await h.startService()
    expect(await say('/newagent')).toMatch(/Step 1 of 5/)
    expect(await say('Bad Name!')).toMatch(/^A name is 2 to 32 characters/)
    expect(await say('assistant')).toBe('There is already an agent called assistant. Pick another name.')
    expect(await say('poet')).toMatch(/^Step 2 of 5 \(poet\)/)
    expect(await say('x')).toMatch(/^The description is one line of 3 to 200 characters/)

    // A redeploy in the middle: the wizard's state is in Postgres.
    expect(await service.stop()).toEqual({ code: 0, signal: null })
    service = await h.startService()
    expect(await say('writes short poems')).toMatch(/^Step 3 of 5/)
    expect(await say('You answer every question with a four-line poem.')).toMatch(/^Step 4 of 5/)
    expect(await say('not a model!!')).toMatch(/^That does not look like a model name/)
    expect(await press('Default model')).toMatch(/^Step 5 of 5/)
    expect(await say('remember, telepathy')).toMatch(/^I do not know telepathy\. Choose from: remember, recall, forget/)
    expect(await say('recall')).toMatch(/^Create this agent\?[\s\S]*Tools: recall/)
    expect(await press('Create')).toMatch(/^Created poet\./)
    expect(h.openai.requests).toHaveLength(0) // the wizard never asked a model

    expect(await say('@poet the sea')).toBe('[poet] echo: @poet the sea')
    const request = h.openai.requests.at(-1)
    expect(systemOf(request)).toMatch(/You are poet, an agent of Mechanic.*four-line poem/)
    expect(toolNames(request)).toEqual(expect.arrayContaining(['recall', 'hand_off']))
    expect(toolNames(request)).not.toContain('remember')
    expect(await say('/agents')).toMatch(/• poet · test-model — writes short poems/)
  })

  test('/cancel leaves a wizard; other commands pass through while it waits', async () => {
    service = await h.startService()
    await say('/newagent')
    expect(await say('/help')).toMatch(/^I am Mechanic/) // handled as usual; the wizard still waits
    expect(await say('helper')).toMatch(/^Step 2 of 5/)
    expect(await say('/cancel')).toBe('Making an agent cancelled. Nothing was changed.')
    expect(await say('just chatting')).toBe('[assistant] echo: just chatting')
    expect(await say('@helper hi')).toBe('[assistant] echo: @helper hi') // no such agent: the active one answers
  })

  test('/editagent keeps what is not changed; /deleteagent only for the owner or an admin', async () => {
    service = await h.startService()
    await say('/newagent')
    await say('critic')
    await say('reviews ideas')
    await say('You point out the weakest part of any idea.')
    await say('gpt-critic-1')
    await say('none')
    await press('Create')

    // Someone else may not change it.
    expect(await say('/editagent critic', { userId: 2001 })).toMatch(/^Only critic's owner or an admin can change it/)
    expect(await say('/cancel', { userId: 2001 })).toBe('Editing cancelled. Nothing was changed.')

    expect(await say('/editagent critic')).toMatch(/^Step 2 of 5 \(critic\)[\s\S]*Now: reviews ideas/)
    expect(await say('.')).toMatch(/^Step 3 of 5/)
    expect(await say('You point out the strongest and the weakest part.')).toMatch(/^Step 4 of 5[\s\S]*Now: gpt-critic-1/)
    expect(await press('Keep')).toMatch(/^Step 5 of 5/)
    expect(await press('Keep')).toMatch(/^Save critic like this\?[\s\S]*Description: reviews ideas[\s\S]*Model: gpt-critic-1[\s\S]*strongest and the weakest/)
    expect(await press('Save')).toBe('Saved critic.')
    await say('@critic my plan')
    expect(h.openai.requests.at(-1)?.model).toBe('gpt-critic-1')
    expect(systemOf(h.openai.requests.at(-1))).toMatch(/strongest and the weakest/)

    expect(await say('/deleteagent assistant', { userId: ADMIN_ID })).toMatch(/^assistant is built in and cannot be changed/)
    await say('/cancel', { userId: ADMIN_ID })
    expect(await say('/agent critic')).toMatch(/^You are now talking to critic/)
    expect(await say('/deleteagent critic', { userId: ADMIN_ID })).toMatch(/^Delete critic \(reviews ideas\)\?/)
    expect(await press('Delete', { userId: ADMIN_ID })).toBe('Deleted critic.')
    // The chat that talked to it is back with the default agent.
    expect(await say('still there?')).toBe('[assistant] echo: still there?')
  })
})
