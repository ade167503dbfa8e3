-- Approvals that survive restarts, and internal events that travel through the inbox.

-- Internal events (an approval that expired) travel through the inbox with ids from this sequence,
-- shifted far below zero: they never collide with Telegram's ids and sort in the order queued.
create sequence internal_update_id;

create table approval_requests (
  id                 text primary key,
  chat_id            bigint not null,
  message_id         bigint,
  requester_id       bigint not null,
  thread_id          text not null,
  interrupt_id       text not null unique,
  type               text not null check (type in ('tool', 'plan', 'push')),
  payload            jsonb not null,
  status             text not null default 'pending'
                     check (status in ('pending', 'approved', 'rejected', 'timeout', 'cancelled')),
  created_at         timestamptz not null default now(),
  expires_at         timestamptz not null,
  resolved_at        timestamptz,
  resolved_by        bigint,
  decision           jsonb,
  -- The update that decided it, so a retry of that same update can finish the resume.
  decided_by_update  bigint,
  -- Set once the thread was resumed with the decision; until then the resume is owed.
  resumed_at         timestamptz,
  -- The ForceReply prompt of an Edit, whose reply carries the changed instructions.
  edit_prompt_id     bigint
);
create index approval_requests_pending_expiry on approval_requests (expires_at) where status = 'pending';
create index approval_requests_chat on approval_requests (chat_id, created_at desc);
