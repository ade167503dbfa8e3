-- Costs and budgets (issue 18). Every model call's cost in US dollars (the unit OpenRouter's credits
-- are in): reported by the provider, or computed from a price per token; null when no price is known
-- (never counted as zero). Transcription, embeddings and aider runs are model calls too; an aider
-- run's row carries its task.
alter table model_usage add column cost_usd numeric(16, 10);
alter table model_usage add column cost_source text check (cost_source in ('provider', 'price'));
alter table model_usage add column task_id text;
create index model_usage_agent_at on model_usage (agent, at);
create index model_usage_task on model_usage (task_id) where task_id is not null;

-- Caps admins set with /budget: per person (subject: their id, or '*' for everyone's default), per
-- agent (its name, or '*'), and per coder task ('*'). They override BUDGET_USER_DAILY and friends.
create table budgets (
  scope      text not null check (scope in ('person', 'agent', 'task')),
  subject    text not null,
  period     text not null check (period in ('day', 'month', 'task')),
  amount_usd numeric(12, 4) not null check (amount_usd >= 0),
  set_by     bigint not null,
  set_at     timestamptz not null default now(),
  primary key (scope, subject, period)
);

-- The 80 % warning, once per cap and period: the row is the proof it was sent.
create table budget_warnings (
  scope        text not null,
  subject      text not null,
  period       text not null,
  period_start timestamptz not null,
  warned_at    timestamptz not null default now(),
  primary key (scope, subject, period, period_start)
);
