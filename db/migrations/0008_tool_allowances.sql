-- "Allow for this conversation" (issue 14): a person who approves an MCP tool that way is not asked
-- again for that tool in that thread (a chat or a forum topic) until /new. Kept here, not in memory,
-- so a decision taken on one instance holds on every other.
create table tool_allowances (
  thread_id   text not null,
  tool        text not null,
  granted_by  bigint not null,
  chat_id     bigint not null,
  approval_id text,
  granted_at  timestamptz not null default now(),
  primary key (thread_id, tool)
);

-- Which approvals were given for the whole conversation (the outcome line says so).
alter table approval_requests add column allow_in_thread boolean not null default false;
