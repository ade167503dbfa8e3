-- Photos and documents people send, stored once and referenced from the conversation's checkpoint
-- (issue 13). A checkpoint rewrites the whole message list on every turn, so a 200 KB photo kept
-- inline would be written again with every later turn; here it is one row, and the message holds
-- its id. Rows go when no message of their thread refers to them any more (history trimmed, /new).
create table attachments (
  id          text primary key,           -- '<thread>:<turn>:<n>': a retried turn stores the same ids
  thread_id   text not null,
  kind        text not null check (kind in ('image', 'document')),
  name        text,
  mime        text not null,
  body        bytea not null,             -- image bytes, or the document's extracted UTF-8 text
  note        text,                       -- what was cut from a long document, in words for the model
  created_at  timestamptz not null default now()
);
create index attachments_thread on attachments (thread_id);

-- Transcriptions are model calls too: their length in audio seconds, where the endpoint reports it.
alter table model_usage add column audio_seconds real;
