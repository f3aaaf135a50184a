-- The groups a run held back once its change budget (--max-changes) was spent: they needed
-- writes, and none was sent. Their own rows in group_sync_state say 'held_back'.
ALTER TABLE sync_runs ADD COLUMN IF NOT EXISTS held_back integer NOT NULL DEFAULT 0;
