-- Several repositories (issue 17): admins add repositories by name with /repos; a task names the one it
-- changes; a chat may pick its default with /repo. Credentials never live here: tokens come from the
-- environment per host. The configured repository (GIT_REMOTE_URL) has no row unless an admin set its
-- test command, so url is null for it.
create table repositories (
  name              text primary key,
  url               text,
  -- owner/name on GitHub, for pull requests when the URL is not a github.com one (a mirror, a path).
  github_repository text,
  -- Run in a task's worktree after aider's edit; null: the configured TASK_TEST_COMMAND (none for an added one).
  test_command      text,
  added_by          bigint not null,
  created_at        timestamptz not null default now(),
  updated_at        timestamptz not null default now()
);

-- The repository a chat's /code goes to when the request does not name one.
create table chat_repositories (
  chat_id    bigint primary key,
  repository text not null,
  set_by     bigint not null,
  set_at     timestamptz not null default now()
);

-- A /code request waiting for its person to pick the repository (a button); used once, pruned after a day.
create table parked_code_requests (
  id         text primary key,
  chat_id    bigint not null,
  user_id    bigint not null,
  request    text not null,
  created_at timestamptz not null default now()
);

-- Which repository a task changes (null: the configured one), and the chat messages that show it, so a
-- reply to any of them is a follow-up of that task.
alter table tasks add column repository text;
alter table tasks add column message_ids bigint[] not null default '{}';
