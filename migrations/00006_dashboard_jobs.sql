-- Distributed dashboard builds (internal/jobs): a build's plan and inputs,
-- its shards and the sparse codes each shard job stores for the merges.
-- River's own tables (river_job, ...) are not here: its rivermigrate
-- package applies and versions them from the same migrate step, so they
-- follow the River release saex is built with.

-- +goose Up
CREATE TABLE dashboard_builds (
    hash            text PRIMARY KEY,
    model_id        text        NOT NULL,
    spec            jsonb       NOT NULL,
    shards          integer     NOT NULL,
    contexts        integer     NOT NULL,
    merges_enqueued boolean     NOT NULL DEFAULT false,
    created_at      timestamptz NOT NULL DEFAULT now()
);

-- One row per shard; contexts (the shard's token ids) is cleared once
-- every source is merged; the other columns stay as a record of costs.
CREATE TABLE dashboard_build_shards (
    hash        text    NOT NULL REFERENCES dashboard_builds (hash) ON DELETE CASCADE,
    shard       integer NOT NULL,
    n_contexts  integer NOT NULL,
    contexts    bytea,
    done_at     timestamptz,
    worker      text    NOT NULL DEFAULT '',
    tokens      bigint  NOT NULL DEFAULT 0,
    model_ms    bigint  NOT NULL DEFAULT 0,
    codes_bytes bigint  NOT NULL DEFAULT 0,
    PRIMARY KEY (hash, shard)
);

-- A shard's codes for one source, one array element per chunk; written
-- with the shard's done_at in one transaction, deleted once the source is
-- merged. Codes hardly compress: store them uncompressed.
CREATE TABLE dashboard_build_codes (
    hash      text    NOT NULL,
    source_id text    NOT NULL,
    shard     integer NOT NULL,
    codes     bytea[] NOT NULL,
    PRIMARY KEY (hash, source_id, shard),
    FOREIGN KEY (hash, shard) REFERENCES dashboard_build_shards (hash, shard) ON DELETE CASCADE
);
ALTER TABLE dashboard_build_codes ALTER COLUMN codes SET STORAGE EXTERNAL;

-- One row per merged source, with its costs.
CREATE TABLE dashboard_build_merges (
    hash        text    NOT NULL REFERENCES dashboard_builds (hash) ON DELETE CASCADE,
    source_id   text    NOT NULL,
    done_at     timestamptz NOT NULL DEFAULT now(),
    worker      text    NOT NULL DEFAULT '',
    fetch_ms    bigint  NOT NULL DEFAULT 0,
    total_ms    bigint  NOT NULL DEFAULT 0,
    codes_bytes bigint  NOT NULL DEFAULT 0,
    PRIMARY KEY (hash, source_id)
);

-- +goose Down
DROP TABLE dashboard_build_merges;
DROP TABLE dashboard_build_codes;
DROP TABLE dashboard_build_shards;
DROP TABLE dashboard_builds;
