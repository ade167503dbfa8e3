import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'
import { cachedFor } from './cached.ts'
import type { Pool } from './db/database.ts'
import { stats } from './db/inbox.ts'
import type { CallCost, ModelCallReport } from './domain/model-calls.ts'

/** Figures that come from the database: read at most this often, however often Prometheus scrapes. */
const DB_FIGURES_TTL_MS = 5000

const seconds = (ms: number) => ms / 1000

/**
 * The service's Prometheus metrics (`GET /metrics`). Counters and histograms are updated where things
 * happen; the inbox, task and approval figures are read from Postgres when scraped, cached for a few
 * seconds so that scraping never competes with the webhook for the pool.
 */
export class Metrics {
  readonly registry = new Registry()
  readonly #figures: { get(): Promise<DbFigures> }

  readonly updatesReceived = new Counter({ name: 'mechanic_updates_received_total', help: 'Telegram updates stored in the inbox (new ones; duplicates not counted)', labelNames: ['kind'], registers: [this.registry] })
  readonly updatesHandled = new Counter({ name: 'mechanic_updates_handled_total', help: 'Inbox rows handled, by outcome (done, retry, failed)', labelNames: ['outcome'], registers: [this.registry] })
  readonly turnSeconds = new Histogram({ name: 'mechanic_update_handling_seconds', help: 'Time to handle one inbox row (a turn, a command, an event)', labelNames: ['kind'], buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120], registers: [this.registry] })
  readonly inboxLagSeconds = new Histogram({ name: 'mechanic_inbox_lag_seconds', help: 'Time from storing an update to starting its handling', buckets: [0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30, 120], registers: [this.registry] })
  readonly modelSeconds = new Histogram({ name: 'mechanic_model_call_seconds', help: 'Model call latency', labelNames: ['agent', 'model', 'outcome'], buckets: [0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 60, 120], registers: [this.registry] })
  readonly modelErrors = new Counter({ name: 'mechanic_model_errors_total', help: 'Failed model calls, by kind', labelNames: ['agent', 'model', 'kind'], registers: [this.registry] })
  readonly tokens = new Counter({ name: 'mechanic_model_tokens_total', help: 'Tokens the model endpoint reported', labelNames: ['agent', 'model', 'direction'], registers: [this.registry] })
  readonly taskStepSeconds = new Histogram({ name: 'mechanic_task_step_seconds', help: 'Task step duration, by step and how it ended', labelNames: ['step', 'status'], buckets: [1, 5, 10, 30, 60, 120, 300, 600, 1200], registers: [this.registry] })
  readonly mediaReceived = new Counter({ name: 'mechanic_media_received_total', help: 'Input beyond text, by kind (voice, audio, video_note, photo, document, other)', labelNames: ['kind'], registers: [this.registry] })
  readonly transcriptionSeconds = new Histogram({ name: 'mechanic_transcription_seconds', help: 'Transcription latency, by outcome', labelNames: ['outcome'], buckets: [0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 60], registers: [this.registry] })
  readonly transcriptionFailures = new Counter({ name: 'mechanic_transcription_failures_total', help: 'Failed transcriptions, by kind (not_set_up, unreadable, unavailable)', labelNames: ['kind'], registers: [this.registry] })
  readonly toolCalls = new Counter({ name: 'mechanic_tool_calls_total', help: 'MCP tool calls, by server, tool and outcome (ok, tool_error, timeout, unavailable, failed)', labelNames: ['server', 'tool', 'outcome'], registers: [this.registry] })
  readonly toolCallSeconds = new Histogram({ name: 'mechanic_tool_call_seconds', help: 'MCP tool call latency, by server and tool', labelNames: ['server', 'tool'], buckets: [0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30, 120], registers: [this.registry] })
  readonly scheduleFirings = new Counter({ name: 'mechanic_schedule_firings_total', help: 'Schedule firings, by kind (reminder, job) and outcome (sent, failed)', labelNames: ['kind', 'outcome'], registers: [this.registry] })
  readonly scheduleLagSeconds = new Histogram({ name: 'mechanic_schedule_lag_seconds', help: 'From a schedule falling due to its message being sent', labelNames: ['kind'], buckets: [0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 3600], registers: [this.registry] })
  readonly spend = new Counter({ name: 'mechanic_model_spend_usd_total', help: 'US dollars spent on model calls with a known cost, by agent and model', labelNames: ['agent', 'model'], registers: [this.registry] })
  readonly unpricedCalls = new Counter({ name: 'mechanic_model_calls_unpriced_total', help: 'Model calls whose cost is unknown (no price for the model), by agent and model', labelNames: ['agent', 'model'], registers: [this.registry] })
  readonly budgetRefusals = new Counter({ name: 'mechanic_budget_refusals_total', help: 'Calls refused before they were made because a budget was spent, by scope (person, agent, task) and period', labelNames: ['scope', 'period'], registers: [this.registry] })
  readonly aiderSeconds = new Histogram({ name: 'mechanic_aider_seconds', help: 'aider run duration, by outcome', labelNames: ['outcome'], buckets: [1, 5, 10, 30, 60, 120, 300, 600, 1200], registers: [this.registry] })

  constructor(pool: Pool, statements?: () => number) {
    this.#figures = cachedFor(DB_FIGURES_TTL_MS, () => readFigures(pool))
    collectDefaultMetrics({ register: this.registry, prefix: 'mechanic_' })
    if (statements) {
      new Counter({
        name: 'mechanic_db_statements_total',
        help: 'SQL statements sent to the database by this process',
        registers: [this.registry],
        collect() {
          this.reset()
          this.inc(statements())
        },
      })
    }
    const figures = () => this.#figures.get()
    new Gauge({
      name: 'mechanic_inbox_depth',
      help: 'Updates waiting or running in the inbox',
      labelNames: ['state'],
      registers: [this.registry],
      async collect() {
        const f = await figures()
        this.set({ state: 'queued' }, f.inbox.depth)
        this.set({ state: 'running' }, f.inbox.running)
      },
    })
    new Gauge({
      name: 'mechanic_inbox_oldest_queued_seconds',
      help: 'Age of the oldest update still waiting (0 when none)',
      registers: [this.registry],
      async collect() {
        this.set((await figures()).inbox.oldestQueuedSeconds ?? 0)
      },
    })
    // Every status is set on each scrape: one with no rows left reads 0, not its last value.
    const byStatus = (name: string, help: string, statuses: readonly string[], pick: (f: DbFigures) => Record<string, number>) =>
      new Gauge({
        name,
        help,
        labelNames: ['status'],
        registers: [this.registry],
        async collect() {
          const counts = pick(await figures())
          for (const status of statuses) this.set({ status }, counts[status] ?? 0)
        },
      })
    byStatus('mechanic_tasks', 'Coding tasks by status', ['queued', 'running', 'waiting', 'completed', 'failed', 'cancelled'], (f) => f.tasks)
    byStatus('mechanic_approvals', 'Approval requests by status', ['pending', 'approved', 'rejected', 'timeout', 'cancelled'], (f) => f.approvals)
  }

  /** A model call as the graph reports it, with what it cost. */
  modelCall(call: ModelCallReport, cost?: CallCost): void {
    const labels = { agent: call.agent, model: call.model }
    if (cost?.usd != null) this.spend.inc(labels, cost.usd)
    else if (cost && !call.error) this.unpricedCalls.inc(labels)
    this.modelSeconds.observe({ ...labels, outcome: call.error ? 'error' : 'ok' }, seconds(call.ms))
    if (call.error) this.modelErrors.inc({ ...labels, kind: call.error })
    if (call.inputTokens) this.tokens.inc({ ...labels, direction: 'input' }, call.inputTokens)
    if (call.outputTokens) this.tokens.inc({ ...labels, direction: 'output' }, call.outputTokens)
  }

  /** How an inbox row's attempt ended, how long it took, and (first attempts) how long it waited. */
  updateOutcome(row: { kind: string; attempts: number; waitedMs: number }, outcome: 'done' | 'retry' | 'failed', ms: number): void {
    this.updatesHandled.inc({ outcome })
    this.turnSeconds.observe({ kind: row.kind }, seconds(ms))
    if (row.attempts === 1) this.inboxLagSeconds.observe(seconds(row.waitedMs))
  }

  /** Media received, and transcriptions: how long each took and how it ended. */
  readonly mediaObserver = {
    received: (kind: string) => this.mediaReceived.inc({ kind }),
    transcription: (outcome: string, ms: number) => {
      this.transcriptionSeconds.observe({ outcome }, seconds(ms))
      if (outcome !== 'ok') this.transcriptionFailures.inc({ kind: outcome })
    },
  }

  /** Schedule firings: how each ended and how long after its time it was sent. */
  readonly scheduleObserver = {
    fired: (kind: string, outcome: string, lagMs: number) => {
      this.scheduleFirings.inc({ kind, outcome })
      if (outcome === 'sent') this.scheduleLagSeconds.observe({ kind }, seconds(lagMs))
    },
  }

  /** One MCP tool call: how it ended and how long it took. */
  toolCall(call: { server: string; tool: string; outcome: string; ms: number }): void {
    this.toolCalls.inc({ server: call.server, tool: call.tool, outcome: call.outcome })
    this.toolCallSeconds.observe({ server: call.server, tool: call.tool }, seconds(call.ms))
  }

  /** A task step's and an aider run's length, by how they ended. */
  readonly taskObserver = {
    step: (step: string, status: string, ms: number) => this.taskStepSeconds.observe({ step, status }, seconds(ms)),
    aider: (outcome: 'done' | 'timeout' | 'stopped', ms: number) => this.aiderSeconds.observe({ outcome }, seconds(ms)),
  }

  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() }
  }
}

interface DbFigures {
  inbox: Awaited<ReturnType<typeof stats>>
  tasks: Record<string, number>
  approvals: Record<string, number>
}

async function readFigures(pool: Pool): Promise<DbFigures> {
  const inbox = await stats(pool)
  const counts = async (table: string) => {
    const { rows } = await pool.query<{ status: string; n: string }>(`select status, count(*) as n from ${table} group by status`)
    return Object.fromEntries(rows.map((r) => [r.status, Number(r.n)]))
  }
  return { inbox, tasks: await counts('tasks'), approvals: await counts('approval_requests') }
}
