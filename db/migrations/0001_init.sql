-- The spine: pgvector for memory, the durable inbox, users and the audit log.
create extension if not exists vector;

-- Every Telegram update lands here before it is acknowledged. "lane" is the chat the update
-- belongs to (or its sender, or 0): updates of one lane are handled one at a time, in order.
create table inbox (
  update_id    bigint primary key,
  lane         bigint not null,
  kind         text not null,
  payload      jsonb not null,
  status       text not null default 'queued' check (status in ('queued', 'running', 'done', 'failed')),
  attempts     integer not null default 0,
  available_at timestamptz not null default now(),
  lease_until  timestamptz,
  claimed_by   text,
  error        text,
  received_at  timestamptz not null default now(),
  started_at   timestamptz,
  finished_at  timestamptz
);
create index inbox_pending_by_lane on inbox (lane, update_id) where status in ('queued', 'running');
create index inbox_finished_at on inbox (finished_at) where status in ('done', 'failed');

create table users (
  telegram_id  bigint primary key,
  role         text not null default 'user' check (role in ('owner', 'admin', 'user')),
  allowed      boolean not null default false,
  username     text,
  first_name   text,
  created_at   timestamptz not null default now(),
  updated_at   timestamptz not null default now(),
  last_seen_at timestamptz
);

create table audit_log (
  id       bigserial primary key,
  at       timestamptz not null default now(),
  actor_id bigint,
  chat_id  bigint,
  action   text not null,
  detail   jsonb not null default '{}'
);
create index audit_log_at on audit_log (at desc);

-- The LangGraph thread each chat currently talks in; /new points it at a fresh one.
create table chat_threads (
  chat_id    bigint primary key,
  thread_id  text not null,
  updated_at timestamptz not null default now()
);
