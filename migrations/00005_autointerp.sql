-- Auto-interp runs: how each LLM-generated explanation was made (the job,
-- the prompt version, the tokens its calls used). Kept apart from
-- explanations so imported and human explanations carry no empty columns.

-- +goose Up
CREATE TABLE explanation_runs (
    explanation_id    text PRIMARY KEY REFERENCES explanations (id) ON DELETE CASCADE,
    job               text        NOT NULL DEFAULT '',
    prompt_version    text        NOT NULL,
    prompt_tokens     integer     NOT NULL DEFAULT 0,
    completion_tokens integer     NOT NULL DEFAULT 0,
    created_at        timestamptz NOT NULL DEFAULT now()
);

-- +goose Down
DROP TABLE explanation_runs;
