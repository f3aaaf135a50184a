-- Every query syncer runs, loaded by name (syncer/db/sqlfiles.py). Values only as $n.
--
-- The reads of a vendor's desired relation go through its view syncer_<vendor>_desired, of one
-- shape for every vendor (sql/desired/<vendor>.sql): {desired} names it. Each answers what a run
-- needs to settle a group found as it was last seen in line, and no more (each column decoded
-- costs the worker CPU, for every group of every run):
--   group_id, wanted;
--   live_digest: the digest of the vendor's answer recorded when the group was last seen in line,
--     only while the row is still the one seen then (its desired_digest unchanged), else NULL;
--   answer_digest: the digest of the whole batch answer it was then seen in (same condition);
--   attrs_fingerprint, attrs_checked_age_s: what is known of its attribute set;
--   shape, manages_attrs: the view's, for the batch read and the attribute re-check.
-- read_desired_rows answers the whole profile of the rows the pipeline must look at in full.

-- name: read_desired_page
-- Keyset pagination: each page is its own short snapshot, so a long run holds no transaction
-- open and memory stays flat whatever the table's size. The page is taken from the primary key
-- first (an index range scan with a LIMIT, whatever the filters), then joined and filtered: a
-- page costs the same at row 10 and at row 1,000,000. $2 makes the first page include $1 itself
-- (so even an empty group_id is read, and rejected, rather than skipped).
--   $3 page size; $4 the current run: groups it has already recorded are not wanted;
--   $5 'all', or 'changed' (updated since $6, never synced, or not in line last time);
--   $7 shard count, $8 shard index: a shard wants only the groups syncer_shard gives it;
--   $11 a targeted run's next targets (--group, --where), or NULL for every row.
--   $9 the batch size: a whole batch of wanted rows that a run last saw in line in one answer
--   (each row's answer_digest the same, and the row unchanged since) comes back as one row: its
--   first group_id, that answer_digest, the batch's distinct shapes (one per line), whether any
--   row manages attributes, the oldest attrs_checked_age_s among those that do (infinity if
--   never), and group_ids, every ID of it in order, one per line. Read again as that batch, one
--   answer settles them all if it is the same, and the worker touches none of them one by one.
--   Such rows are not wanted one by one. This is the one place that decides a batch is seen whole.
-- A wanted row not last seen in line comes with its desired_digest and profile, read in full:
-- the run must look at it closely (a first run reads every row so).
-- Only wanted rows come back, plus the page's last row (wanted or not) to carry the cursor on.
WITH page AS (
    SELECT d.group_id, d.updated_at, d.desired_digest, d.shape, d.manages_attrs
    FROM {desired} AS d
    WHERE d.group_id >= $1 AND (d.group_id <> $1 OR $2)
      AND ($11::text[] IS NULL OR d.group_id = ANY($11::text[]))
    ORDER BY d.group_id
    LIMIT $3
), joined AS (
    SELECT p.*, s.attrs_fingerprint,
           CASE WHEN s.desired_digest = p.desired_digest THEN s.live_digest END AS live_digest,
           CASE WHEN s.desired_digest = p.desired_digest THEN s.answer_digest END AS answer_digest,
           extract(epoch FROM now() - s.attrs_checked_at)::float8 AS attrs_checked_age_s,
           s.last_run_id IS DISTINCT FROM $4 AND CASE $5
               WHEN 'all' THEN true
               WHEN 'changed' THEN p.updated_at > $6 OR s.group_id IS NULL
                                   OR s.outcome NOT IN ('in_sync', 'updated')
           END
           AND ($7 = 1 OR syncer_shard(p.group_id, $7) = $8)
           -- A group a revert wrote back is held until its desired row changes (unless targeted).
           AND ($11::text[] IS NOT NULL OR s.outcome IS DISTINCT FROM 'reverted'
                OR s.desired_digest IS DISTINCT FROM p.desired_digest) AS wanted,
           p.group_id = (SELECT max(group_id) FROM page) AS page_end
    FROM page AS p
    -- One primary-key lookup per row of the page. LATERAL with LIMIT 1 keeps it so under a
    -- generic plan too, which (not knowing the page size) would rather hash the whole table.
    LEFT JOIN LATERAL (
        SELECT * FROM group_sync_state AS g
        WHERE g.vendor = $10 AND g.group_id = p.group_id
        LIMIT 1
    ) AS s ON true
), counted AS (
    -- How many wanted rows of the page were last seen in line in the same batch answer, as they are now.
    SELECT j.*, count(*) FILTER (WHERE j.wanted) OVER (PARTITION BY j.answer_digest) = $9
                AND j.answer_digest IS NOT NULL AND j.wanted AS in_seen_batch
    FROM joined AS j
)
SELECT c.group_id, c.wanted AND NOT c.in_seen_batch AS wanted, c.live_digest, c.answer_digest,
       c.attrs_fingerprint, c.attrs_checked_age_s, c.shape, c.manages_attrs, f.desired_digest, f.profile,
       NULL::text AS group_ids
FROM counted AS c
-- The profile by a key lookup of its own, only for the rows that need it (the view computes a
-- column only where a query names it; the page above names it for none). LIMIT 1 keeps it a
-- lookup: without it the planner would hash the whole relation.
LEFT JOIN LATERAL (
    SELECT d.desired_digest, d.profile::text AS profile
    FROM {desired} AS d
    WHERE d.group_id = c.group_id AND c.wanted AND NOT c.in_seen_batch AND c.live_digest IS NULL
    LIMIT 1
) AS f ON true
WHERE (c.wanted AND NOT c.in_seen_batch) OR c.page_end
UNION ALL
SELECT min(group_id), true, NULL, answer_digest, NULL,
       max(CASE WHEN manages_attrs THEN coalesce(attrs_checked_age_s, 'infinity') END),
       string_agg(DISTINCT shape, E'\n'), bool_or(manages_attrs), NULL, NULL,
       string_agg(group_id, E'\n' ORDER BY group_id)
FROM counted
WHERE in_seen_batch
GROUP BY answer_digest
ORDER BY group_id;

-- name: read_failed_page
-- The groups the last run left failed, driven from syncer's own records (usually few).
SELECT d.group_id, true AS wanted, NULL::text AS live_digest, NULL::text AS answer_digest, s.attrs_fingerprint,
       extract(epoch FROM now() - s.attrs_checked_at)::float8 AS attrs_checked_age_s,
       d.shape, d.manages_attrs, d.desired_digest, d.profile::text AS profile, NULL::text AS group_ids
FROM group_sync_state AS s
JOIN {desired} AS d ON d.group_id = s.group_id
WHERE s.vendor = $6 AND s.outcome = 'failed' AND s.group_id >= $1 AND (s.group_id <> $1 OR $2)
  AND ($4 = 1 OR syncer_shard(s.group_id, $4) = $5)
ORDER BY s.group_id
LIMIT $3;

-- name: read_seen_rows
-- The page rows of the groups named ($1), as read_desired_page answers them one by one
-- (answer_digest aside): a batch whose answer was not the one it was last seen in line in, or
-- whose attributes are due for their re-check, each of its groups looked at on its own. A row
-- changed since its page was read comes with its profile, as a page's would.
SELECT d.group_id, true AS wanted,
       CASE WHEN s.desired_digest = d.desired_digest THEN s.live_digest END AS live_digest,
       NULL::text AS answer_digest, s.attrs_fingerprint,
       extract(epoch FROM now() - s.attrs_checked_at)::float8 AS attrs_checked_age_s,
       d.shape, d.manages_attrs,
       CASE WHEN s.live_digest IS NULL OR s.desired_digest IS DISTINCT FROM d.desired_digest
            THEN d.desired_digest END AS desired_digest,
       CASE WHEN s.live_digest IS NULL OR s.desired_digest IS DISTINCT FROM d.desired_digest
            THEN d.profile::text END AS profile,
       NULL::text AS group_ids
FROM {desired} AS d
LEFT JOIN group_sync_state AS s ON s.vendor = $2 AND s.group_id = d.group_id
WHERE d.group_id = ANY($1::text[])
ORDER BY d.group_id;

-- name: read_desired_rows
-- The whole profile of the rows named ($1), with the digest of their managed columns: what
-- decoding, validation and the diff need, read only for the groups a run must look at in full.
SELECT d.group_id, d.desired_digest, d.profile::text AS profile
FROM {desired} AS d
WHERE d.group_id = ANY($1::text[]);

-- name: count_desired
-- How many desired rows fall to this shard ($1 count, $2 index): the progress display's total.
SELECT count(*) FROM {desired} AS d
WHERE $1 = 1 OR syncer_shard(d.group_id, $1) = $2;

-- name: last_completed_run
-- Where an incremental run starts from: the last run for this vendor ($3) and shard ($1 count, $2 index) that
-- went through to the end, and how many incremental runs have followed its last full one. Runs
-- made with another shard count do not count: after re-sharding, the first run is full.
WITH mine AS (
    SELECT * FROM sync_runs
    WHERE vendor = $3 AND shard_count = $1 AND shard_index = $2 AND status IN ('succeeded', 'partial')
)
SELECT
    (SELECT started_at FROM mine ORDER BY run_id DESC LIMIT 1) AS since,
    (SELECT count(*) FROM mine
     WHERE mode = 'incremental'
       AND run_id > coalesce((SELECT max(run_id) FROM mine WHERE mode = 'run'), 0)
    ) AS incremental_since_full;

-- name: try_run_lock
-- Session-level: held by the run's own connection, gone when it closes, however the run ends.
SELECT pg_try_advisory_lock($1);

-- name: try_run_lock_shared
-- Shards hold the app's lock shared (side by side) and their own shard's exclusively; an
-- unsharded run holds the app's lock exclusively, so it can run beside no shard.
SELECT pg_try_advisory_lock_shared($1);

-- name: keep_session
-- Every syncer connection (the lock's, asked every second, and the pool's, idle between
-- pages): Postgres 14+ may end idle sessions sooner than that, and must not end these.
-- (Unknown before 14: nothing to do.)
SELECT set_config('idle_session_timeout', '0', false)
WHERE current_setting('idle_session_timeout', true) IS NOT NULL;

-- name: shard_count_gate
SELECT pg_advisory_xact_lock($1);

-- name: other_shard_count
-- A live run's shard count ($1: the app's 31-bit key) other than this run's ($2), if any.
SELECT objid::bigint AS count FROM pg_locks
WHERE locktype = 'advisory' AND objsubid = 2 AND granted
  AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
  AND classid::bigint = $1 AND objid::bigint <> $2
LIMIT 1;

-- name: take_shard_count
SELECT pg_advisory_lock_shared($1::int, $2::int);

-- name: run_locks_held
-- The advisory locks this session holds: fewer than it took means the lock is no longer held.
SELECT count(*) FROM pg_locks WHERE pid = pg_backend_pid() AND locktype = 'advisory' AND granted;

-- name: orphaned_runs
-- Runs of this vendor still 'running' whose lock-holding backend is gone: they may not have
-- noticed yet that their lock went, and may still be sending.
SELECT run_id FROM sync_runs AS r
WHERE vendor = $1 AND status = 'running' AND NOT EXISTS (
    SELECT 1 FROM pg_stat_activity AS a WHERE a.pid = r.lock_pid AND a.backend_start <= r.started_at);

-- name: abandon_runs
UPDATE sync_runs SET status = 'abandoned', finished_at = now(),
    error = coalesce(error, 'abandoned: its run lock went and it never recorded an end')
WHERE run_id = ANY($1::bigint[]) AND status = 'running';

-- name: run_lock_holder
-- Advisory locks are a database's own: another database's run with the same key is not this one's.
SELECT pid FROM pg_locks
WHERE locktype = 'advisory' AND granted AND objsubid = 1
  AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
  AND ((classid::bigint << 32) | objid::bigint) = $1
LIMIT 1;

-- name: insert_run
INSERT INTO sync_runs (mode, shard_index, shard_count, lock_pid, vendor) VALUES ($1, $2, $3, $4, $5) RETURNING run_id;

-- name: finish_run
UPDATE sync_runs
SET status = $2, finished_at = now(), groups_read = $3, in_sync = $4, updated = $5, rejected = $6,
    failed = $7, not_found = $8, warnings = $9, calls = $10::jsonb, error = $11, held_back = $12
WHERE run_id = $1;

-- name: upsert_group_states
-- One round trip for a whole batch of outcomes of run $1 for vendor $3. $2: the outcomes as one
-- JSON array of arrays, each [group_id, outcome, error_code, error_message, warnings, applied,
-- attrs_fingerprint, desired_digest, live_digest, answer_digest, journal] (one document costs the
-- worker less to encode than ten arrays). journal: the group's changes written, each [field,
-- before, after, outcome], into group_changes in the same statement. attrs_fingerprint: a digest records that set as live now;
-- '' forgets what was known (the next run reads the attributes); null leaves it be.
-- desired_digest, live_digest and answer_digest: set for a group seen in line, cleared by
-- anything else.
WITH u AS (
    SELECT e->>0 AS group_id, e->>1 AS outcome, (e->>2)::int AS error_code, e->>3 AS error_message,
           e->4 AS warnings, nullif(e->5, 'null'::jsonb) AS applied, e->>6 AS attrs_fingerprint,
           e->>7 AS desired_digest, e->>8 AS live_digest, e->>9 AS answer_digest
    FROM jsonb_array_elements($2::jsonb) AS e
), journaled AS (
    INSERT INTO group_changes (run_id, vendor, group_id, field, before, after, outcome)
    SELECT $1, $3, e->>0, c->>0, nullif(c->1, 'null'::jsonb), nullif(c->2, 'null'::jsonb), c->>3
    FROM jsonb_array_elements($2::jsonb) AS e, jsonb_array_elements(e->10) AS c
)
INSERT INTO group_sync_state AS s (
    vendor, group_id, last_run_id, outcome, error_code, error_message, warnings, attempts,
    last_success_at, last_applied, last_applied_at, attrs_fingerprint, attrs_checked_at, updated_at,
    desired_digest, live_digest, answer_digest)
SELECT $3, u.group_id, $1, u.outcome, u.error_code, u.error_message, u.warnings,
       CASE WHEN u.outcome IN ('in_sync', 'updated') THEN 0 ELSE 1 END,
       CASE WHEN u.outcome IN ('in_sync', 'updated') THEN now() END,
       u.applied, CASE WHEN u.applied IS NOT NULL THEN now() END,
       u.attrs_fingerprint, CASE WHEN u.attrs_fingerprint <> '' THEN now() END,
       now(), u.desired_digest, u.live_digest, u.answer_digest
FROM u
ON CONFLICT (vendor, group_id) DO UPDATE SET
    last_run_id = EXCLUDED.last_run_id,
    outcome = EXCLUDED.outcome,
    error_code = EXCLUDED.error_code,
    error_message = EXCLUDED.error_message,
    warnings = EXCLUDED.warnings,
    attempts = CASE WHEN EXCLUDED.outcome IN ('in_sync', 'updated') THEN 0 ELSE s.attempts + 1 END,
    last_success_at = COALESCE(EXCLUDED.last_success_at, s.last_success_at),
    last_applied = COALESCE(EXCLUDED.last_applied, s.last_applied),
    last_applied_at = COALESCE(EXCLUDED.last_applied_at, s.last_applied_at),
    attrs_fingerprint = COALESCE(EXCLUDED.attrs_fingerprint, s.attrs_fingerprint),
    attrs_checked_at = CASE WHEN EXCLUDED.attrs_fingerprint IS NULL THEN s.attrs_checked_at
                            ELSE EXCLUDED.attrs_checked_at END,
    updated_at = now(),
    desired_digest = EXCLUDED.desired_digest,
    live_digest = EXCLUDED.live_digest,
    answer_digest = EXCLUDED.answer_digest;

-- name: record_unchanged_groups
-- Groups found exactly as they were last seen in line (of vendor $2), by run $1: their outcome
-- and digests stay, except the digest of the batch answer they were found in this time; which
-- run saw them, and when, move on. They come by batch: $3 each batch's IDs as one text, one per
-- line (a batch read whole as the page query answered it is recorded without ever being split),
-- $4 the digest of its answer (NULL for none). A routine run sends little else for most of its
-- groups, and asyncpg encodes a text[] element by element. Every such ID passed validation,
-- which admits no line break in an ID.
UPDATE group_sync_state AS s
SET last_run_id = $1, last_success_at = now(), updated_at = now(), answer_digest = b.answer_digest
FROM unnest($3::text[], $4::text[]) AS b(group_ids, answer_digest)
     CROSS JOIN LATERAL unnest(string_to_array(b.group_ids, E'\n')) AS u(group_id)
WHERE s.vendor = $2 AND s.group_id = u.group_id;

-- name: schema_versions
SELECT version FROM syncer_migrations ORDER BY version;

-- name: applied_migrations
SELECT version, name, applied_at, checksum FROM syncer_migrations ORDER BY version;

-- name: create_migrations_table
CREATE TABLE IF NOT EXISTS syncer_migrations (
    version    integer PRIMARY KEY,
    name       text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now(),
    checksum   text
);

-- name: record_migration
INSERT INTO syncer_migrations (version, name, checksum) VALUES ($1, $2, $3);

-- name: backfill_checksums
-- Migrations applied before checksums were kept ($1 versions, $2 their checksums as of now).
UPDATE syncer_migrations AS m SET checksum = c.checksum
FROM unnest($1::int[], $2::text[]) AS c(version, checksum)
WHERE m.version = c.version AND m.checksum IS NULL;

-- name: schema_exists
SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1);

-- name: relation_info
-- The relation $1.$2, named in full (never through the search_path): its kind, its owner, and
-- what syncer's role may do with it.
SELECT c.oid, c.relkind, pg_get_userbyid(c.relowner) AS owner,
       pg_has_role(c.relowner, 'MEMBER') AS owned,
       has_table_privilege(c.oid, 'SELECT') AS can_select
FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace
WHERE n.nspname = $1 AND c.relname = $2;

-- name: same_name_elsewhere
-- Relations named $1 in any schema: one syncer would create could hide one of these.
SELECT n.nspname || '.' || c.relname AS name
FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace
WHERE c.relname = $1 AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
ORDER BY 1;

-- name: has_trigger
SELECT EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = $1 AND tgname = $2);

-- name: derived_of
SELECT relation, version FROM syncer_derived WHERE vendor = $1;

-- name: record_derived
INSERT INTO syncer_derived (vendor, relation, version) VALUES ($1, $2, $3)
ON CONFLICT (vendor) DO UPDATE SET relation = EXCLUDED.relation, version = EXCLUDED.version, built_at = now();

-- name: migration_lock
-- Two `syncer migrate` at once: the second waits, then finds nothing left to do.
SELECT pg_advisory_xact_lock(hashtext('syncer.migrate'));

-- name: recent_runs
-- A run still 'running' whose lock-holding backend is gone (or is a newer one with the same pid)
-- died without finishing: shown as 'abandoned'.
SELECT run_id, vendor, mode,
       CASE WHEN status = 'running' AND NOT EXISTS (
                SELECT 1 FROM pg_stat_activity AS a
                WHERE a.pid = r.lock_pid AND a.backend_start <= r.started_at)
            THEN 'abandoned' ELSE status END AS status,
       shard_index, shard_count, started_at, finished_at, groups_read,
       in_sync, updated, rejected, failed, not_found, held_back, calls::text AS calls, error,
       (SELECT count(*) FROM group_changes AS c WHERE c.run_id = r.run_id) AS changes
FROM sync_runs AS r ORDER BY run_id DESC LIMIT $1;

-- name: groups_by_outcome
SELECT vendor, outcome, count(*) AS groups FROM group_sync_state GROUP BY vendor, outcome ORDER BY vendor, outcome;

-- name: troubled_groups
-- Served by the partial index group_sync_state_troubled: cheap however many groups are in line.
-- The columns are syncer.models.TroubledGroup's fields, in order.
SELECT vendor, group_id, outcome, error_code, error_message, attempts, last_success_at, updated_at AS since
FROM group_sync_state
WHERE outcome IN ('failed', 'rejected', 'not_found', 'held_back', 'stale', 'reverted')
ORDER BY attempts DESC, vendor, group_id
LIMIT $1;

-- name: group_history
-- One group's journaled changes (vendor $1, group $2), newest first, at most $3.
SELECT at, run_id, field, before::text AS before, after::text AS after, outcome
FROM group_changes
WHERE vendor = $1 AND group_id = $2
ORDER BY change_id DESC
LIMIT $3;

-- name: prune_journal
-- The journal's entries older than $1 days, dropped; how many.
WITH gone AS (DELETE FROM group_changes WHERE at < now() - $1::float8 * interval '1 day' RETURNING 1)
SELECT count(*) FROM gone;

-- name: targeted_present
-- Which of the group IDs named ($1) have a desired row (an ID that has none is reported).
SELECT d.group_id FROM {desired} AS d WHERE d.group_id = ANY($1::text[]);

-- name: run_changes
-- What run $1 wrote for vendor $2, as the change journal has it (confirmed, or sent with no
-- answer): what `syncer revert` writes back, in the order it was written.
SELECT group_id, field, before::text AS before, after::text AS after
FROM group_changes
WHERE run_id = $1 AND vendor = $2
ORDER BY change_id;

-- name: save_plan
INSERT INTO saved_plans (vendor, app, groups, body) VALUES ($1, $2, $3, $4) RETURNING plan_id;

-- name: saved_plan
SELECT body FROM saved_plans WHERE plan_id = $1;

-- name: prune_plans
-- Saved plans older than $1 days, dropped (with the journal's retention); how many.
WITH gone AS (DELETE FROM saved_plans WHERE created_at < now() - $1::float8 * interval '1 day' RETURNING 1)
SELECT count(*) FROM gone;

-- name: desired_shapes
-- `syncer check`: every distinct shape of the desired rows (what the batch read asks for, custom
-- keys included: each must be enabled at the vendor), through the view a run reads.
SELECT DISTINCT d.shape FROM {desired} AS d;

-- name: missing_privileges
-- `syncer check`: what a run needs on syncer's own tables (found through the search_path, its
-- schema) that this role lacks.
SELECT t.name, p.privilege
FROM (VALUES ('sync_runs'), ('group_sync_state'), ('group_changes'), ('saved_plans')) AS t(name)
CROSS JOIN (VALUES ('SELECT'), ('INSERT'), ('UPDATE')) AS p(privilege)
WHERE NOT has_table_privilege(t.name, p.privilege)
ORDER BY 1, 2;
