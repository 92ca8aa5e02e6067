-- Lists of features kept by API keys (Neuronpedia's List and
-- ListsOnNeurons). user_id is the id of the API key that created the row.

-- +goose Up
CREATE TABLE lists (
    id                text PRIMARY KEY,
    name              text        NOT NULL,
    description       text        NOT NULL DEFAULT '',
    default_test_text text,
    user_id           text        NOT NULL DEFAULT '',
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX lists_user ON lists (user_id, created_at);

CREATE TABLE list_features (
    list_id     text        NOT NULL REFERENCES lists (id) ON DELETE CASCADE,
    sid         integer     NOT NULL,
    idx         integer     NOT NULL,
    description text        NOT NULL DEFAULT '',
    user_id     text        NOT NULL DEFAULT '',
    added_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (list_id, sid, idx),
    FOREIGN KEY (sid, idx) REFERENCES features (sid, idx) ON DELETE CASCADE
);
CREATE INDEX list_features_feature ON list_features (sid, idx);

-- Vectors are features with has_vector; list-owned finds them by creator.
CREATE INDEX features_vector_creator ON features (creator_id) WHERE has_vector;

-- +goose Down
DROP INDEX features_vector_creator;
DROP TABLE list_features;
DROP TABLE lists;
