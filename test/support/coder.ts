import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import { Harness, USER_ID, WEBHOOK_SECRET } from './harness.ts'
import { sleep, waitUntil } from './http.ts'
import { lastUserText } from './openai-emulator.ts'
import type { ChatRequest, ModelTurn } from './openai-emulator.ts'
import { AIDER_BIN, createRemote, git } from './git.ts'
import type { ServiceProcess } from './service.ts'
import type { TelegramCall } from './telegram-emulator.ts'

/** The git token the coder's tests give the service: it must never show in a log line. */
export const GIT_TOKEN = 'ghp_TESTgitTokenForEmulatorsOnly0123456789'

/** The text a call showed, as the person sees it (formatting parsed away). */
export const textOf = (c: TelegramCall) => c.shown?.text ?? ''

const userTexts = (req: ChatRequest) =>
  req.messages
    .filter((m) => m.role === 'user')
    .map((m) => (typeof m.content === 'string' ? m.content : JSON.stringify(m.content)))
    .join('\n')

/**
 * What the coder's end-to-end tests share: a harness, a bare remote with one commit, a workspace, and
 * one model emulator that serves both the agents and aider. aider's requests carry its own system
 * prompt and get a whole-file edit ("add a FILE saying WORDS"); the coder calls request_code_change;
 * a tool result or a task note gets a short follow-up; anything else is echoed.
 */
export class CoderWorld {
  h!: Harness
  remote!: { bare: string; url: string }
  workspace!: string
  /** When aider's model requests ran: [start, end] in ms, to prove two runs overlapped or not. */
  aiderSpans: Array<[number, number]> = []

  async setUp(): Promise<void> {
    this.h = await Harness.create()
    this.remote = createRemote()
    this.workspace = mkdtempSync(join(tmpdir(), 'mechanic-ws-'))
    this.aiderSpans = []
  }

  async tearDown(): Promise<void> {
    await this.h.closeAndCheckLogs()
    if (this.h.allOutput().includes(GIT_TOKEN)) throw new Error('the git token appeared in the logs')
  }

  model = async (req: ChatRequest): Promise<ModelTurn> => {
    const first = req.messages[0]?.content
    const system = typeof first === 'string' ? first : JSON.stringify(first ?? '')
    if (/expert software developer/i.test(system)) {
      const started = Date.now()
      const want = [...userTexts(req).matchAll(/add a (\S+) saying ([^\n"]+)/g)].at(-1)
      await sleep(600) // long enough that an overlap of two runs would show
      this.aiderSpans.push([started, Date.now()])
      if (!want) return { content: 'I am not sure what to change.' }
      return { content: `Creating ${want[1]}.\n\n${want[1]}\n\`\`\`\n${want[2]!.trim()}\n\`\`\`\n` }
    }
    const last = req.messages.at(-1)
    if (last?.role === 'tool') return { content: `coder: ${String(last.content)}` }
    const text = lastUserText(req)
    if (text.startsWith('[Mechanic')) return { content: `follow-up: ${text.slice(0, 60)}` }
    if (system.includes('coder of Mechanic')) {
      const file = /add a (\S+)/.exec(text)?.[1]
      return { toolCalls: [{ name: 'request_code_change', args: { instructions: text, ...(file && { files: [file] }) } }] }
    }
    return { content: `echo: ${text}` }
  }

  start = (env: Record<string, string> = {}): Promise<ServiceProcess> => {
    this.h.openai.respondWith(this.model)
    return this.h.startService({ GIT_REMOTE_URL: this.remote.url, GIT_ACCESS_TOKEN: GIT_TOKEN, WORKSPACE_DIR: this.workspace, AIDER_BIN: AIDER_BIN ?? 'aider', AIDER_TIMEOUT_SECONDS: '60', ...env })
  }

  /** The `n`th message with buttons in a chat: its id, the text the person sees, and its buttons by label. */
  buttonsMessage = async (n: number, chatId = USER_ID, timeoutMs = 60_000) => {
    const message = await this.h.telegram.waitForButtons(chatId, n, timeoutMs)
    const sent = this.h.telegram.callsOf('sendMessage').find((c) => (c.result as { message_id?: number } | undefined)?.message_id === message.messageId)
    return { ...message, text: sent ? textOf(sent) : '' }
  }

  waitForText = (chatId: number, re: RegExp, timeoutMs = 60_000) => waitUntil(() => this.h.telegram.sentTexts(chatId).find((t) => re.test(t)), `a message matching ${re}`, timeoutMs)

  /**
   * `/code …` from `userId` (in their own chat unless `chatId` says), then Approve on the plan (the
   * `planNumber`th message with buttons there): the task id the agent was told.
   */
  approvedPlan = async (service: ServiceProcess, request: string, userId = USER_ID, o: { chatId?: number; planNumber?: number } = {}) => {
    const chatId = o.chatId ?? userId
    const told = this.h.telegram.sentTexts(chatId).filter((t) => /^\[coder\] coder: Task (\w+) is queued/.test(t)).length
    await service.deliver(this.h.text(`/code ${request}`, { userId, chatId }), WEBHOOK_SECRET)
    const plan = await this.buttonsMessage(o.planNumber ?? 1, chatId)
    await service.deliver(this.h.press(plan.messageId, plan.buttons.Approve!, { chatId, userId }), WEBHOOK_SECRET)
    const queued = await waitUntil(() => this.h.telegram.sentTexts(chatId).filter((t) => /^\[coder\] coder: Task (\w+) is queued/.test(t))[told], 'the task queued')
    return { plan, taskId: /Task (\w+)/.exec(queued)![1]!, queued }
  }

  remoteBranches = (bare = this.remote.bare) => git(bare, 'branch', '--list', '--format=%(refname:short)').split('\n').filter(Boolean)

  query = async <T extends pg.QueryResultRow>(sql: string, params: unknown[] = []): Promise<T[]> => {
    if (!this.h.db.url) throw new Error('these tests read the tasks table: set TEST_DATABASE_URL (.ci/run starts Postgres)')
    const client = new pg.Client({ connectionString: this.h.db.url })
    await client.connect()
    try {
      return (await client.query<T>(sql, params)).rows
    } finally {
      await client.end()
    }
  }
}

/**
 * A stand-in for aider (allowed for the timeout and environment tests): hangs, dumps the names of its
 * environment's variables into the change, or writes what it is asked. Like aider, it reads the
 * request from the file after --message-file. It runs in the sandbox: only the worktree is writable.
 */
export function fakeAider(dir: string): string {
  const path = join(dir, 'aider')
  writeFileSync(
    path,
    [
      '#!/bin/sh',
      'request=""',
      // The person's words: what follows our first line and the blank line after it.
      'while [ $# -gt 0 ]; do if [ "$1" = "--message-file" ]; then request=$(tail -n +3 "$2"); fi; shift; done',
      `case "$request" in`,
      // Hangs until the test writes the marker (the folder is read-only inside the sandbox, so the test does).
      `  *hang-once*) if [ -f "${join(dir, 'hung')}" ]; then echo "hello" > NOTES.md; else sleep 120; fi ;;`,
      `  *hang*) echo "thinking..."; sleep 120 ;;`,
      `  *env*) env | cut -d= -f1 | sort > ENV-NAMES.txt; echo "hello" > NOTES.md ;;`,
      // A change that carries the model key it was given (as a model tricked by a repository might write).
      `  *leak*) echo "key=$OPENAI_API_KEY" > LEAK.txt ;;`,
      `  *big*) seq 1 400 > NUMBERS.txt ;;`,
      // aider's own cost line (as 0.86.1 prints it with a priced model), then a long think: a task budget must stop it.
      `  *spend*) echo "Tokens: 2.1k sent, 50 received. Cost: \\$0.02 message, \\$0.02 session."; sleep 60 ;;`,
      `  *) echo "hello" > NOTES.md ;;`,
      'esac',
    ].join('\n') + '\n',
  )
  chmodSync(path, 0o755)
  return path
}
