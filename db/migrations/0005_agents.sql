-- Orchestration: agents people define, a conversation per chat and forum topic with its active
-- agent, service settings, model usage, wizard state, and people an admin shut out.

create table agents (
  name          text primary key check (name ~ '^[a-z][a-z0-9_-]{1,31}$'),
  description   text not null check (length(description) between 1 and 200),
  system_prompt text not null check (length(system_prompt) between 1 and 4000),
  -- null: the service's default model (/model).
  model         text,
  tools         text[] not null default '{}',
  owner_id      bigint not null,
  created_at    timestamptz not null default now(),
  updated_at    timestamptz not null default now()
);

-- A forum topic is a conversation of its own; 0 is the chat itself (and a forum's General topic).
alter table chat_threads add column topic_id bigint not null default 0;
alter table chat_threads drop constraint chat_threads_pkey;
alter table chat_threads add primary key (chat_id, topic_id);
-- The agent the chat talks to when a message addresses none; null: the default agent.
alter table chat_threads add column active_agent text;

create table settings (
  key        text primary key,
  value      jsonb not null,
  updated_by bigint,
  updated_at timestamptz not null default now()
);

-- One row per model call: what it cost, or how it failed.
create table model_usage (
  id            bigint generated always as identity primary key,
  at            timestamptz not null default now(),
  user_id       bigint not null,
  chat_id       bigint not null,
  agent         text not null,
  model         text not null,
  input_tokens  integer not null default 0,
  output_tokens integer not null default 0,
  ms            integer not null default 0,
  error         text
);
create index model_usage_user_at on model_usage (user_id, at);
create index model_usage_errors_at on model_usage (at) where error is not null;

-- @grammyjs/conversations state (the /newagent, /editagent and /deleteagent wizards), by chat and person.
create table wizard_state (
  key        text primary key,
  value      jsonb not null,
  updated_at timestamptz not null default now()
);

-- /deny: shut out even someone on ALLOWED_USER_IDS (admins cannot be denied).
alter table users add column denied boolean not null default false;

-- Per-person message counters for rate limiting, one fixed window per key, shared by all instances.
create table rate_limits (
  key        text primary key,
  hits       integer not null,
  expires_at timestamptz not null
);
