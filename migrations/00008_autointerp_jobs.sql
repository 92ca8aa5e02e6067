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

-- The score types each source's explanations have (the source browser
-- offers a sort by each): kept by a statement trigger on explanation_scores,
-- so the page reads a handful of rows instead of joining every score of the
-- source. Deleted scores leave their type listed; sorting by it then shows
-- the unscored features last, as for any scorer.
CREATE TABLE source_score_types (
    sid  integer NOT NULL REFERENCES sources (sid) ON DELETE CASCADE,
    type text    NOT NULL,
    PRIMARY KEY (sid, type)
);
INSERT INTO source_score_types (sid, type)
SELECT DISTINCT e.sid, s.explanation_score_type_name
FROM explanation_scores s JOIN explanations e ON e.id = s.explanation_id;

-- +goose StatementBegin
CREATE FUNCTION note_source_score_types() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- In key order, so that concurrent writers queue rather than deadlock.
    INSERT INTO source_score_types (sid, type)
    SELECT DISTINCT e.sid, n.explanation_score_type_name
    FROM new_scores n JOIN explanations e ON e.id = n.explanation_id
    ORDER BY 1, 2
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END
$$;
-- +goose StatementEnd
CREATE TRIGGER explanation_scores_note_types AFTER INSERT ON explanation_scores
    REFERENCING NEW TABLE AS new_scores FOR EACH STATEMENT EXECUTE FUNCTION note_source_score_types();

-- +goose Down
DROP TRIGGER explanation_scores_note_types ON explanation_scores;
DROP FUNCTION note_source_score_types();
DROP TABLE source_score_types;
DROP TABLE autointerp_jobs;
