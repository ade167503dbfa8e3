-- Long-term memory: facts about a person (or shared by a chat, or held by an agent) with an embedding.

create table memories (
  id          bigint generated always as identity primary key,
  scope       text not null check (scope in ('user', 'agent', 'chat')),
  -- The user id, the agent name or the chat id, as text: one column for every scope.
  owner_id    text not null,
  content     text not null check (length(content) between 1 and 2000),
  -- Untyped, so a change of embedding model (and dimension) needs no migration: each row records its
  -- dimension, and the HNSW index for the configured dimension is made at start (memory-index.ts).
  embedding   vector not null,
  dim         int not null,
  metadata    jsonb not null default '{}',
  created_at  timestamptz not null default now(),
  updated_at  timestamptz not null default now()
);
create index memories_owner on memories (scope, owner_id, created_at desc);
