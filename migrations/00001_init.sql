-- saex schema, following Neuronpedia's data model (docs/neuronpedia.md §1)
-- with two storage changes: sources get a small integer surrogate (sid) that
-- features and examples carry instead of (modelId, layer, index) strings, and
-- activation examples store tokens as ids into a per-model dictionary and
-- values sparsely in bytea (see docs/performance-store.md).

-- +goose Up
CREATE TABLE releases (
    name               text PRIMARY KEY,
    description        text        NOT NULL DEFAULT '',
    description_short  text,
    creator_name       text        NOT NULL DEFAULT '',
    creator_name_short text,
    creator_email      text,
    creator_id         text        NOT NULL DEFAULT '',
    visibility         text        NOT NULL DEFAULT 'PUBLIC',
    is_new_ui          boolean     NOT NULL DEFAULT false,
    featured           boolean     NOT NULL DEFAULT false,
    urls               text[]      NOT NULL DEFAULT '{}',
    created_at         timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE models (
    id                      text PRIMARY KEY,
    display_name            text        NOT NULL DEFAULT '',
    display_name_short      text        NOT NULL DEFAULT '',
    creator_id              text        NOT NULL DEFAULT '',
    tlens_id                text,
    dimension               integer     NOT NULL DEFAULT 0,
    layers                  integer     NOT NULL DEFAULT 0,
    neurons_per_layer       integer     NOT NULL DEFAULT 0,
    visibility              text        NOT NULL DEFAULT 'PUBLIC',
    default_source_set_name text,
    default_source_id       text,
    inference_enabled       boolean     NOT NULL DEFAULT false,
    instruct                boolean     NOT NULL DEFAULT false,
    owner                   text        NOT NULL DEFAULT '',
    website                 text,
    created_at              timestamptz NOT NULL DEFAULT now(),
    updated_at              timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE source_sets (
    model_id              text        NOT NULL REFERENCES models (id) ON DELETE CASCADE,
    name                  text        NOT NULL,
    description           text        NOT NULL DEFAULT '',
    type                  text        NOT NULL DEFAULT '',
    creator_name          text        NOT NULL DEFAULT '',
    creator_email         text,
    creator_id            text        NOT NULL DEFAULT '',
    release_name          text REFERENCES releases (name) ON DELETE SET NULL,
    has_dashboards        boolean     NOT NULL DEFAULT false,
    visibility            text        NOT NULL DEFAULT 'PUBLIC',
    urls                  text[]      NOT NULL DEFAULT '{}',
    default_range         integer     NOT NULL DEFAULT 0,
    default_show_breaks   boolean     NOT NULL DEFAULT false,
    show_dfa              boolean     NOT NULL DEFAULT false,
    show_correlated       boolean     NOT NULL DEFAULT false,
    show_head_attribution boolean     NOT NULL DEFAULT false,
    show_umap             boolean     NOT NULL DEFAULT false,
    created_at            timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (model_id, name)
);

CREATE TABLE sources (
    -- sid is what the big tables carry: 4 bytes instead of two strings a row.
    sid                  integer GENERATED ALWAYS AS IDENTITY UNIQUE,
    model_id             text        NOT NULL,
    id                   text        NOT NULL,
    set_name             text        NOT NULL,
    creator_id           text        NOT NULL DEFAULT '',
    has_dashboards       boolean     NOT NULL DEFAULT false,
    inference_enabled    boolean     NOT NULL DEFAULT false,
    saelens_config       json, -- json, not jsonb: kept byte for byte
    saelens_release      text,
    saelens_sae_id       text,
    hf_repo_id           text,
    hf_folder_id         text,
    visibility           text        NOT NULL DEFAULT 'PUBLIC',
    num_prompts          integer,
    num_tokens_in_prompt integer,
    dataset              text,
    notes                text,
    created_at           timestamptz NOT NULL DEFAULT now(),
    hook_name            text        NOT NULL DEFAULT '',
    num_features         integer     NOT NULL DEFAULT 0,
    build                jsonb,
    PRIMARY KEY (model_id, id),
    FOREIGN KEY (model_id, set_name) REFERENCES source_sets (model_id, name) ON DELETE CASCADE
);

-- Per-model token dictionary: example tokens are stored as varint ids into
-- it. Text is bytea because token strings may hold NUL or broken UTF-8,
-- which Postgres text cannot. Ids are dense per model, handed out most
-- frequent first, so common tokens take one byte.
CREATE TABLE tokens (
    model_id text    NOT NULL,
    id       integer NOT NULL,
    text     bytea   NOT NULL,
    PRIMARY KEY (model_id, id),
    UNIQUE (model_id, text)
);

-- Interned short strings repeated on every example row (creatorId).
CREATE TABLE names (
    id   integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name text NOT NULL UNIQUE
);

CREATE TABLE features (
    sid                           integer NOT NULL REFERENCES sources (sid) ON DELETE CASCADE,
    idx                           integer NOT NULL,
    source_set_name               text    NOT NULL DEFAULT '',
    creator_id                    text    NOT NULL DEFAULT '',
    created_at                    timestamptz NOT NULL DEFAULT now(),
    max_act_approx                float8  NOT NULL DEFAULT 0,
    frac_nonzero                  float8  NOT NULL DEFAULT 0,
    has_vector                    boolean NOT NULL DEFAULT false,
    vector                        float8[],
    vector_label                  text,
    vector_default_steer_strength float8,
    hook_name                     text,
    topk_cos_sim_indices          int4[],
    topk_cos_sim_values           float8[],
    neuron_alignment_indices      int4[],
    neuron_alignment_values       float8[],
    neuron_alignment_l1           float8[],
    correlated_neurons_indices    int4[],
    correlated_neurons_pearson    float8[],
    correlated_neurons_l1         float8[],
    correlated_features_indices   int4[],
    correlated_features_pearson   float8[],
    correlated_features_l1        float8[],
    -- logit tokens are raw bytes for the same reason as the dictionary
    neg_str                       bytea[],
    neg_values                    float8[],
    pos_str                       bytea[],
    pos_values                    float8[],
    freq_hist_heights             float8[],
    freq_hist_values              float8[],
    logits_hist_heights           float8[],
    logits_hist_values            float8[],
    decoder_weights_dist          float8[],
    umap_cluster                  integer,
    umap_log_feature_sparsity     float8,
    umap_x                        float8,
    umap_y                        float8,
    PRIMARY KEY (sid, idx)
);
-- browser sorts
CREATE INDEX features_maxact ON features (sid, max_act_approx);
CREATE INDEX features_density ON features (sid, frac_nonzero);

-- One stored example of one feature. No foreign key to features: a
-- per-row FK check costs a large share of bulk-load time, and every write
-- path checks that the features exist in the same transaction.
-- tokens: uvarint dictionary ids; vals: sparse (uvarint position delta +
-- float32 LE) for every value whose bits are not zero. Sorting/filtering
-- fields stay columns.
CREATE TABLE activations (
    sid                    integer NOT NULL,
    idx                    integer NOT NULL,
    max_value_token_index  integer NOT NULL DEFAULT 0,
    creator                integer,
    max_value              float8  NOT NULL DEFAULT 0,
    min_value              float8  NOT NULL DEFAULT 0,
    bin_min                float8,
    bin_max                float8,
    bin_contains           float8,
    created_at             timestamptz NOT NULL DEFAULT now(),
    id                     text    NOT NULL,
    tokens                 bytea   NOT NULL,
    vals                   bytea   NOT NULL,
    qualifying_token_index integer,
    dfa_values             real[],
    dfa_target_index       integer,
    dfa_max_value          float8,
    loss_values            real[],
    logit_contributions    text,
    data_index             text,
    data_source            text
);
-- (sid, idx) repeats ~50 times: btree deduplication keeps this index small.
CREATE INDEX activations_feature ON activations (sid, idx);

CREATE TABLE explanations (
    id                        text PRIMARY KEY,
    sid                       integer NOT NULL,
    idx                       integer NOT NULL,
    description               text    NOT NULL,
    type_name                 text    NOT NULL DEFAULT '',
    explanation_model_name    text    NOT NULL DEFAULT '',
    author_id                 text    NOT NULL DEFAULT '',
    triggered_by_id           text,
    notes                     text,
    embedding                 real[],
    score_v1                  float8  NOT NULL DEFAULT 0,
    score_v2                  float8,
    umap_x                    float8,
    umap_y                    float8,
    umap_cluster              integer,
    umap_log_feature_sparsity float8,
    created_at                timestamptz NOT NULL DEFAULT now(),
    tsv                       tsvector GENERATED ALWAYS AS (to_tsvector('english', description)) STORED,
    FOREIGN KEY (sid, idx) REFERENCES features (sid, idx) ON DELETE CASCADE
);
CREATE INDEX explanations_feature ON explanations (sid, idx);
CREATE INDEX explanations_tsv ON explanations USING gin (tsv);

CREATE TABLE explanation_scores (
    id                           text PRIMARY KEY,
    explanation_id               text    NOT NULL REFERENCES explanations (id) ON DELETE CASCADE,
    value                        float8  NOT NULL,
    explanation_score_type_name  text    NOT NULL DEFAULT '',
    explanation_score_model_name text    NOT NULL DEFAULT '',
    initiated_by_user_id         text    NOT NULL DEFAULT '',
    json_details                 text    NOT NULL DEFAULT '',
    created_at                   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX explanation_scores_explanation ON explanation_scores (explanation_id);

-- A row per finished unit of a resumable job (an import file, a build
-- chunk), written in the same transaction as the unit's data.
CREATE TABLE checkpoints (
    job     text        NOT NULL,
    unit    text        NOT NULL,
    hash    text        NOT NULL,
    done_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (job, unit)
);

CREATE TABLE api_keys (
    id          text PRIMARY KEY,
    name        text        NOT NULL,
    prefix      text        NOT NULL,
    secret_hash bytea       NOT NULL UNIQUE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz
);
CREATE INDEX api_keys_prefix ON api_keys (prefix);

-- +goose Down
DROP TABLE api_keys;
DROP TABLE checkpoints;
DROP TABLE explanation_scores;
DROP TABLE explanations;
DROP TABLE activations;
DROP TABLE features;
DROP TABLE names;
DROP TABLE tokens;
DROP TABLE sources;
DROP TABLE source_sets;
DROP TABLE models;
DROP TABLE releases;
