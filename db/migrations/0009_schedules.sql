-- Schedules (issue 15): reminders (a fixed text) and jobs (a prompt run through an agent), one-off
-- or recurring, fired into their chat's inbox lane. The scheduler moves a due row into the inbox in
-- the same transaction that advances next_run_at, under an advisory lock, so each firing is queued
-- exactly once across instances and restarts. A firing records what it sent (the proof of delivery)
-- or why it failed.
create table schedules (
  id              text primary key,          -- 12 url-safe characters (callback data)
  chat_id         bigint not null,
  topic_id        bigint,
  owner_id        bigint not null,
  owner_name      text not null,
  kind            text not null check (kind in ('reminder', 'job')),
  body            text not null,             -- the reminder's text, or the job's prompt
  agent           text,                      -- a job's agent; null: the chat's agent
  time_zone       text not null,
  recurrence      jsonb not null,            -- {"kind":"once","at":...} | {"kind":"cron","pattern":...} | {"kind":"interval","seconds":...}
  next_run_at     timestamptz,               -- null: a one-off that fired
  paused          boolean not null default false,
  created_at      timestamptz not null default now(),
  fired_count     integer not null default 0,
  last_due_at     timestamptz,
  last_sent_at    timestamptz,
  last_message_id bigint,
  last_outcome    text check (last_outcome in ('sent', 'failed')),
  last_error      text
);
create index schedules_due on schedules (next_run_at) where not paused and next_run_at is not null;
create index schedules_chat on schedules (chat_id);
create index schedules_owner on schedules (owner_id);

-- A person's time zone (/timezone); null: DEFAULT_TIMEZONE.
alter table users add column time_zone text;
