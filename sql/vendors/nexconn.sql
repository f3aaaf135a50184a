-- Nexconn's desired relation, read for the shared pipeline through the view syncer_nexconn_desired
-- (sql/desired/nexconn.sql). Loaded by name
-- (syncer/db/sqlfiles.py); values only as $n.
--
-- The page reads answer what a run needs to settle a channel found as it was last seen in line,
-- and no more: group_id (the channel ID), wanted, live_digest (the digest of the answer recorded
-- when the channel was last seen in line, only while the row's md5 is still the one seen then),
-- answer_digest (the whole batch answer's then, same condition),
-- attrs_fingerprint and attrs_checked_age_s (unused: Nexconn has no separate attribute read).
-- read_desired_rows answers every column of the rows the pipeline must look at in full.

-- name: read_desired_page
-- Keyset pagination: each page is its own short snapshot, so a long run holds no transaction
-- open and memory stays flat whatever the table's size. The page is taken from the primary key
-- first (an index range scan with a LIMIT, whatever the filters), then joined and filtered: a
-- page costs the same at row 10 and at row 1,000,000. $2 makes the first page include $1 itself
-- (so even an empty group_id is read, and rejected, rather than skipped).
--   $3 page size; $4 the current run: groups it has already recorded are not wanted;
--   $5 'all', or 'changed' (updated since $6, never synced, or not in line last time);
--   $7 shard count, $8 shard index: a shard wants only the groups whose stable hash (the first
--   32 bits of md5(group_id), see syncer/sharding.py) falls to it.
--   $9 the batch size: a whole batch of wanted rows that a run last saw in line in one answer
--   (each row's answer_digest the same, and the row unchanged since) comes back as one row: its
--   first group_id, that answer_digest, and group_ids, every ID of it in order, one per line.
--   Read again as that batch, one answer settles them all if it is the same, and the worker
--   touches none of them one by one. Such rows are not wanted one by one.
-- Only wanted rows come back, plus the page's last row (wanted or not) to carry the cursor on.
WITH page AS (
    SELECT d.*, d.channel_id AS group_id
    FROM syncer_nexconn_desired AS d
    WHERE d.channel_id >= $1 AND (d.channel_id <> $1 OR $2)
    ORDER BY d.channel_id
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
           AND ($7 = 1 OR ('x' || left(md5(p.group_id), 8))::bit(32)::bigint % $7 = $8) AS wanted,
           p.group_id = (SELECT max(group_id) FROM page) AS page_end
    FROM page AS p
    -- One primary-key lookup per row of the page. LATERAL with LIMIT 1 keeps it so under a
    -- generic plan too, which (not knowing the page size) would rather hash the whole table.
    LEFT JOIN LATERAL (
        SELECT * FROM group_sync_state AS g
        WHERE g.vendor = 'nexconn' AND g.group_id = p.group_id
        LIMIT 1
    ) AS s ON true
), counted AS (
    -- How many wanted rows of the page were last seen in line in the same batch answer, as they are now.
    SELECT j.*, count(*) FILTER (WHERE j.wanted) OVER (PARTITION BY j.answer_digest) = $9
                AND j.answer_digest IS NOT NULL AND j.wanted AS in_seen_batch
    FROM joined AS j
)
SELECT group_id, wanted AND NOT in_seen_batch AS wanted, live_digest, answer_digest, attrs_fingerprint,
       attrs_checked_age_s, NULL::text AS group_ids
FROM counted
WHERE (wanted AND NOT in_seen_batch) OR page_end
UNION ALL
SELECT min(group_id), true, NULL, answer_digest, NULL, NULL, string_agg(group_id, E'\n' ORDER BY group_id)
FROM counted
WHERE in_seen_batch
GROUP BY answer_digest
ORDER BY group_id;

-- name: read_failed_page
-- The channels the last run left failed, driven from syncer's own records (usually few).
SELECT s.group_id, true AS wanted, NULL::text AS live_digest, NULL::text AS answer_digest, NULL::text AS group_ids,
       s.attrs_fingerprint,
       extract(epoch FROM now() - s.attrs_checked_at)::float8 AS attrs_checked_age_s
FROM group_sync_state AS s
JOIN syncer_nexconn_desired AS d ON d.channel_id = s.group_id
WHERE s.vendor = 'nexconn' AND s.outcome = 'failed' AND s.group_id >= $1 AND (s.group_id <> $1 OR $2)
  AND ($4 = 1 OR ('x' || left(md5(s.group_id), 8))::bit(32)::bigint % $4 = $5)
ORDER BY s.group_id
LIMIT $3;

-- name: read_seen_rows
-- The page rows of the channels named ($1), as read_desired_page answers them one by one
-- (answer_digest aside): a batch whose answer was not the one it was last seen in line in, each of
-- its channels looked at on its own.
SELECT d.channel_id AS group_id, true AS wanted,
       CASE WHEN s.desired_digest = d.desired_digest THEN s.live_digest END AS live_digest,
       NULL::text AS answer_digest, NULL::text AS group_ids, s.attrs_fingerprint,
       extract(epoch FROM now() - s.attrs_checked_at)::float8 AS attrs_checked_age_s
FROM syncer_nexconn_desired AS d
LEFT JOIN group_sync_state AS s ON s.vendor = 'nexconn' AND s.group_id = d.channel_id
WHERE d.channel_id = ANY($1::text[])
ORDER BY d.channel_id;

-- name: read_desired_rows
-- Every column of the rows named ($1), with the digest of their managed columns (the same
-- expression as read_desired_page's): what validation and the diff need, read only for the
-- channels a run must look at in full.
SELECT d.channel_id AS group_id, d.name, d.introduction, d.announcement, d.portrait_url, d.join_perm,
       d.remove_perm, d.mem_invite_perm, d.invite_perm, d.profile_perm, d.mem_profile_perm,
       d.ext_profile::text AS ext_profile,
       d.desired_digest
FROM syncer_nexconn_desired AS d
WHERE d.channel_id = ANY($1::text[]);

-- name: count_desired
-- How many desired rows fall to this shard ($1 count, $2 index): the progress display's total.
SELECT count(*) FROM syncer_nexconn_desired AS d
WHERE $1 = 1 OR ('x' || left(md5(d.channel_id), 8))::bit(32)::bigint % $1 = $2;
