-- `syncer status` lists every group out of line, now also those held back by a change budget,
-- stale against a saved plan, or written back by a revert: the partial index serves them all.
DROP INDEX IF EXISTS group_sync_state_troubled;
CREATE INDEX group_sync_state_troubled ON group_sync_state (vendor, outcome)
    WHERE outcome IN ('failed', 'rejected', 'not_found', 'held_back', 'stale', 'reverted');
