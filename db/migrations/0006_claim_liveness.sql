-- Immediate crash recovery for the inbox and the tasks. Each process holds a session advisory lock,
-- keyed by a random bigint, for its whole life, and its claimant id ends in that key
-- ('<host>:<pid>:<id>#lock:<key>'). Postgres drops a session's locks the moment the session ends
-- (kill -9 or OOM: the kernel closes the socket), and the embedded database's locks end with its one
-- process, so a claim whose holder's lock is no longer granted is taken over at once instead of when
-- its lease runs out. The lease still bounds a claim whose holder hangs or lost the database.
--
-- The key travels inside claimed_by rather than in a column of its own: every version of the claim
-- queries writes claimed_by, so a claim taken over by an older release during a rolling deploy never
-- keeps a stale key, and claimants without a key (older releases, tests) are judged by the lease alone.
--
-- These two functions are the one place that decides whether a claim is still held; every query that
-- takes over or gives up on other processes' claims asks them, as
-- `claim_held(lease_until, claimed_by, (select live_lock_keys()))`. The split is for speed: pg_locks
-- is read once per statement (an uncorrelated subquery runs once), and claim_held has no subquery of
-- its own, so Postgres inlines it; one function doing both read pg_locks again for every row it
-- judged (measured ~0.25 ms a row, so a backlog made the inbox claim several times slower).
--
-- An advisory lock on one bigint shows in pg_locks with classid = its high 32 bits, objid = its low
-- 32 bits and objsubid = 1 (checked on Postgres 16 and on PGlite 0.5.14, whose session advisory locks
-- show there too); the shift wraps into the sign bit, so negative keys come back as they were.
create function live_lock_keys() returns bigint[]
language sql stable
as $$
  select coalesce(array_agg((l.classid::bigint << 32) | l.objid::bigint), '{}')
  from pg_locks l
  where l.locktype = 'advisory' and l.granted and l.objsubid = 1
    and l.database = (select oid from pg_database where datname = current_database())
$$;

create function claim_held(lease_until timestamptz, claimed_by text, live_keys bigint[]) returns boolean
language sql stable
as $$
  select coalesce(lease_until >= now(), false)
    and (substring(claimed_by from '#lock:(-?[0-9]{1,19})$') is null
         or substring(claimed_by from '#lock:(-?[0-9]{1,19})$')::bigint = any(live_keys))
$$;
