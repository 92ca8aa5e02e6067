-- Explanation embeddings for semantic search: one vector per explanation
-- and embedding model (imported Neuronpedia vectors are 256-d
-- text-embedding-3-large; an endpoint may use another model or size, and
-- vectors of different models are never compared).
--
-- vec is real[] rather than bytea: pgvector casts real[] to vector, so when
-- the server has pgvector the search index is an expression index over this
-- very column (no second copy to keep in step), and without it the Go scan
-- reads the binary float4 array directly. seq moves on every insert and
-- update, so (count, max(seq)) of a model's rows tells the in-memory index
-- that it is stale without a version row every writer would queue on.

-- +goose Up
CREATE SEQUENCE explanation_embeddings_seq;

CREATE TABLE explanation_embeddings (
    explanation_id text    NOT NULL REFERENCES explanations (id) ON DELETE CASCADE,
    model          text    NOT NULL CHECK (model <> ''),
    dims           integer NOT NULL CHECK (dims > 0),
    vec            real[]  NOT NULL CHECK (cardinality(vec) = dims AND array_ndims(vec) = 1),
    seq            bigint  NOT NULL DEFAULT nextval('explanation_embeddings_seq'),
    created_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (explanation_id, model)
);
CREATE INDEX explanation_embeddings_model_seq ON explanation_embeddings (model, dims, seq);

-- Embeddings imported before this migration, kept as they are.
INSERT INTO explanation_embeddings (explanation_id, model, dims, vec)
SELECT id, 'text-embedding-3-large', cardinality(embedding), embedding
FROM explanations WHERE cardinality(embedding) > 0;

-- +goose Down
DROP TABLE explanation_embeddings;
DROP SEQUENCE explanation_embeddings_seq;
