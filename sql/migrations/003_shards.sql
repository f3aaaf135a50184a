-- Sharded runs (Kubernetes Indexed Jobs): a run records which share of the groups it took, so
-- that an incremental shard starts from that shard's last completed run, and `syncer status`
-- can tell the shards' runs apart. An unsharded run is shard 0 of 1.

-- lock_pid: the Postgres backend holding the run's lock. A run still 'running' whose backend is
-- gone died without finishing (SIGKILL, OOM, a lost node): `syncer status` calls it abandoned.
ALTER TABLE sync_runs
    ADD COLUMN shard_index integer NOT NULL DEFAULT 0,
    ADD COLUMN shard_count integer NOT NULL DEFAULT 1,
    ADD COLUMN lock_pid integer;

CREATE INDEX sync_runs_shard ON sync_runs (shard_count, shard_index, run_id);
