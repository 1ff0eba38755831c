-- 001_schema.sql: the orchestrator's tables, as golive's checks expect them.
-- Applied by the application role (`orchestrator`), which owns the database and every
-- object in it; the role is not a superuser.

CREATE TABLE IF NOT EXISTS schema_migrations (
    version    text PRIMARY KEY,
    applied_at timestamptz NOT NULL DEFAULT now()
);

DO $$
BEGIN
    CREATE TYPE schedule_kind AS ENUM ('cron', 'rrule', 'once', 'event', 'condition');
EXCEPTION WHEN duplicate_object THEN NULL;
END
$$;

CREATE TABLE IF NOT EXISTS agent (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name        text NOT NULL UNIQUE,
    scopes      text[] NOT NULL DEFAULT '{}',
    webhook_url text,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS task (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    title            text NOT NULL,
    description      text NOT NULL DEFAULT '',
    created_by       uuid NOT NULL REFERENCES agent(id),
    schedule_kind    schedule_kind NOT NULL,
    schedule_expr    text,
    timezone         text NOT NULL DEFAULT 'UTC',
    payload          jsonb NOT NULL DEFAULT '{}'::jsonb,
    status           text NOT NULL DEFAULT 'active'
                     CHECK (status IN ('active', 'paused', 'canceled')),
    priority         integer NOT NULL DEFAULT 5 CHECK (priority BETWEEN 1 AND 9),
    dedupe_key       text,
    max_retries      integer NOT NULL DEFAULT 3 CHECK (max_retries >= 0),
    backoff_strategy text NOT NULL DEFAULT 'exponential_jitter',
    concurrency_key  text,
    created_at       timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS task_run (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    task_id      uuid NOT NULL REFERENCES task(id),
    lease_owner  text,
    leased_until timestamptz,
    started_at   timestamptz,
    finished_at  timestamptz,
    success      boolean,
    error        text,
    attempt      integer NOT NULL DEFAULT 1,
    output       jsonb,
    created_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS due_work (
    id           bigserial PRIMARY KEY,
    task_id      uuid NOT NULL REFERENCES task(id),
    run_at       timestamptz NOT NULL,
    locked_until timestamptz,
    locked_by    text,
    created_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS audit_log (
    id             bigserial PRIMARY KEY,
    actor_agent_id uuid REFERENCES agent(id),
    action         text NOT NULL,
    subject_id     uuid,
    details        jsonb NOT NULL DEFAULT '{}'::jsonb,
    at             timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS worker_heartbeat (
    worker_id       text PRIMARY KEY,
    last_seen       timestamptz NOT NULL DEFAULT now(),
    processed_count bigint NOT NULL DEFAULT 0,
    pid             integer,
    hostname        text,
    created_at      timestamptz NOT NULL DEFAULT now()
);
