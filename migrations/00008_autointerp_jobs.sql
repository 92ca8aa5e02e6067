-- Auto-interp jobs started from the source page: what each explains, its
-- progress and summary, persisted so that a restart resumes a running job
-- (the features it finished are in checkpoints; this row keeps the counts).
-- heartbeat is refreshed by the process running the job; a running job
-- whose heartbeat is NULL (released at shutdown) or old is claimed and
-- resumed by the next serve process.

-- +goose Up
CREATE TABLE autointerp_jobs (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    sid               integer     NOT NULL REFERENCES sources (sid) ON DELETE CASCADE,
    features          text        NOT NULL DEFAULT '',
    scorers           text[]      NOT NULL DEFAULT '{}',
    budget_tokens     bigint      NOT NULL DEFAULT 0,
    started_by        text        NOT NULL DEFAULT '',
    state             text        NOT NULL CHECK (state IN ('running', 'done', 'failed')),
    total             integer     NOT NULL DEFAULT 0,
    done              integer     NOT NULL DEFAULT 0,
    explained         integer     NOT NULL DEFAULT 0,
    already_done      integer     NOT NULL DEFAULT 0,
    dead              integer     NOT NULL DEFAULT 0,
    scored            integer     NOT NULL DEFAULT 0,
    not_started       integer     NOT NULL DEFAULT 0,
    failed            jsonb       NOT NULL DEFAULT '[]',
    score_failed      jsonb       NOT NULL DEFAULT '[]',
    budget_exhausted  boolean     NOT NULL DEFAULT false,
    prompt_tokens     bigint      NOT NULL DEFAULT 0,
    completion_tokens bigint      NOT NULL DEFAULT 0,
    error             text        NOT NULL DEFAULT '',
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    finished_at       timestamptz,
    heartbeat         timestamptz
);
-- One running job per source.
CREATE UNIQUE INDEX autointerp_jobs_running ON autointerp_jobs (sid) WHERE state = 'running';
CREATE INDEX autointerp_jobs_source ON autointerp_jobs (sid, id);

-- +goose Down
DROP TABLE autointerp_jobs;
