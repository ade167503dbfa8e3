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
-- This is the one place that decides whether a claim is still held; every query that takes over or
-- gives up on other processes' claims asks it. An advisory lock on one bigint shows in pg_locks with
-- classid = its high 32 bits, objid = its low 32 bits and objsubid = 1 (checked on Postgres 16 and on
-- PGlite 0.5.14, whose session advisory locks show there too).
create function claim_held(lease_until timestamptz, claimed_by text) returns boolean
language sql stable
as $$
  select coalesce(lease_until >= now(), false) and coalesce((
    select exists (
      select 1 from pg_locks l
      where l.locktype = 'advisory' and l.granted and l.objsubid = 1
        and l.database = (select oid from pg_database where datname = current_database())
        and l.classid = ((holder.k >> 32) & 4294967295)::oid
        and l.objid = (holder.k & 4294967295)::oid)
    from (select substring(claimed_by from '#lock:(-?[0-9]{1,19})$')::bigint as k) holder
    where holder.k is not null), true)
$$;
