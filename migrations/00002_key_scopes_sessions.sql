-- API keys get a scope, sources an owner, and browsers server-side login
-- sessions (issue 10 defect 5, issue 17 item 3).
--
-- Scopes: 'read' (reads and compute only, for a private instance),
-- 'upload' (writes to the sources the key created), 'admin' (writes to any
-- source). Keys made before scopes existed could write everywhere: they
-- become 'admin', so upgrading takes no one's rights away.
--
-- A source's owner_key is the upload key that created it; NULL means the
-- admin's (the demo, imports, builds and sources older than this column).
--
-- A session is the SHA-256 of a random cookie token (never the token or
-- the key), the key it logs in as, and when it ends. Deleting or revoking
-- the key ends its sessions.

-- +goose Up
ALTER TABLE api_keys ADD COLUMN scope text NOT NULL DEFAULT 'admin'
    CHECK (scope IN ('read', 'upload', 'admin'));
ALTER TABLE api_keys ALTER COLUMN scope SET DEFAULT 'upload';

ALTER TABLE sources ADD COLUMN owner_key text REFERENCES api_keys (id) ON DELETE SET NULL;

CREATE TABLE sessions (
    token_hash bytea       PRIMARY KEY,
    key_id     text        NOT NULL REFERENCES api_keys (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL
);
CREATE INDEX sessions_key ON sessions (key_id);

-- +goose Down
DROP TABLE sessions;
ALTER TABLE sources DROP COLUMN owner_key;
ALTER TABLE api_keys DROP COLUMN scope;
