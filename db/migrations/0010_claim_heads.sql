-- The inbox claim reads lane heads (the oldest pending update of each lane) and the lanes busy with a
-- held claim, each once per statement. Running rows are few (at most the dispatchers' concurrency), so
-- this index lets the claim find busy lanes without reading the backlog.
create index inbox_running_by_lane on inbox (lane) where status = 'running';

-- Chats told "I'm catching up" during the backlog they are in: one note per chat per backlog. A row
-- goes when its lane has nothing left waiting or running, so the next backlog gets a note again.
create table inbox_backlog_notes (
  lane     bigint primary key,
  noted_at timestamptz not null default now()
);
