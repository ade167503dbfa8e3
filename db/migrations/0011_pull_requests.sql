-- Pull requests (issue 17): a task's change can be opened as a pull request instead of pushed, a
-- step of its own; the push approval records which way the person chose.
alter table tasks drop constraint tasks_step_check;
alter table tasks add constraint tasks_step_check check (step in ('code', 'push', 'discard', 'pr'));
alter table approval_requests add column route text check (route in ('push', 'pr'));
