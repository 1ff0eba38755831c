-- 002_indexes.sql: indexes for the hot paths and for every foreign key (an unindexed
-- foreign key makes deletes on the parent scan the child table).

CREATE INDEX IF NOT EXISTS task_created_by_idx        ON task (created_by);
CREATE INDEX IF NOT EXISTS task_status_kind_idx       ON task (status, schedule_kind);
CREATE INDEX IF NOT EXISTS task_title_idx             ON task (title text_pattern_ops);
CREATE UNIQUE INDEX IF NOT EXISTS task_dedupe_key_uidx ON task (dedupe_key)
    WHERE dedupe_key IS NOT NULL;

CREATE INDEX IF NOT EXISTS task_run_task_id_idx       ON task_run (task_id, created_at DESC);
CREATE INDEX IF NOT EXISTS task_run_finished_at_idx   ON task_run (finished_at);

CREATE INDEX IF NOT EXISTS due_work_task_id_idx       ON due_work (task_id);
CREATE INDEX IF NOT EXISTS due_work_run_at_idx        ON due_work (run_at);

CREATE INDEX IF NOT EXISTS audit_log_actor_idx        ON audit_log (actor_agent_id);
CREATE INDEX IF NOT EXISTS audit_log_subject_idx      ON audit_log (subject_id);
CREATE INDEX IF NOT EXISTS audit_log_at_idx           ON audit_log (at);

CREATE INDEX IF NOT EXISTS worker_heartbeat_last_seen_idx ON worker_heartbeat (last_seen);
