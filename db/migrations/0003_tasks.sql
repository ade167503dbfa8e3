-- Long work (an aider run, a push) as durable tasks, run by the task runner outside the chat's inbox lane.

create table tasks (
  id                  text primary key,
  chat_id             bigint not null,
  thread_id           text not null,
  requester_id        bigint not null,
  agent               text not null,
  kind                text not null check (kind in ('code')),
  -- What created the task (the approved tool call): a retried tool run creates no second task.
  source              text not null unique,
  -- queued → running → waiting (for a push decision) → queued (push or discard) → running → completed,
  -- or failed / cancelled at any point.
  status              text not null default 'queued'
                      check (status in ('queued', 'running', 'waiting', 'completed', 'failed', 'cancelled')),
  step                text not null default 'code' check (step in ('code', 'push', 'discard')),
  -- What a running task does now, for /tasks ("waiting for the repository", "running aider", ...).
  activity            text,
  input               jsonb not null,
  result              jsonb,
  error               text,
  attempts            int not null default 0,
  claimed_by          text,
  lease_until         timestamptz,
  cancel_requested    boolean not null default false,
  -- The chat message that shows progress, edited in place.
  progress_message_id bigint,
  -- The status and step last reported to the chat, so a retried report is not sent twice.
  reported            text,
  created_at          timestamptz not null default now(),
  started_at          timestamptz,
  finished_at         timestamptz,
  updated_at          timestamptz not null default now()
);
create index tasks_active on tasks (created_at) where status in ('queued', 'running');
create index tasks_chat on tasks (chat_id, created_at desc);

-- A push approval belongs to a task, not to a waiting graph thread.
alter table approval_requests add column task_id text references tasks (id);
