package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"saex/internal/features"
)

// APIKeyPrefix starts every secret, so leaked keys are easy to grep for.
const APIKeyPrefix = "saex_"

// prefixLen is how much of a secret listings show: the fixed prefix plus 8
// random characters.
const prefixLen = len(APIKeyPrefix) + 8

func hashSecret(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}

// CreateAPIKey makes an admin key (see CreateScopedAPIKey).
func (db *DB) CreateAPIKey(ctx context.Context, name string) (string, *features.APIKey, error) {
	return db.CreateScopedAPIKey(ctx, name, features.ScopeAdmin)
}

// CreateScopedAPIKey makes a key with the scope from 32 random bytes; only
// its SHA-256 hash is stored, so the secret returned here is shown once.
func (db *DB) CreateScopedAPIKey(ctx context.Context, name, scope string) (string, *features.APIKey, error) {
	if !features.ValidScope(scope) {
		return "", nil, features.Errorf(features.EINVALID, "unknown API key scope %q: use %s, %s or %s", scope, features.ScopeRead, features.ScopeUpload, features.ScopeAdmin)
	}
	name = strings.TrimSpace(name)
	if name == "" || len(name) > 200 {
		return "", nil, features.Errorf(features.EINVALID, "API key name must be 1 to 200 characters")
	}
	if err := checkText("API key name", name); err != nil {
		return "", nil, err
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", nil, features.Wrap(features.EINTERNAL, err, "random key")
	}
	idRaw := make([]byte, 8)
	if _, err := rand.Read(idRaw); err != nil {
		return "", nil, features.Wrap(features.EINTERNAL, err, "random key id")
	}
	secret := APIKeyPrefix + base64.RawURLEncoding.EncodeToString(raw)
	k := &features.APIKey{ID: hex.EncodeToString(idRaw), Name: name, Prefix: secret[:prefixLen], Scope: scope, CreatedAt: db.now()}
	_, err := db.Pool.Exec(ctx, `INSERT INTO api_keys (id, name, prefix, secret_hash, created_at, scope) VALUES ($1,$2,$3,$4,$5,$6)`,
		k.ID, k.Name, k.Prefix, hashSecret(secret), k.CreatedAt, k.Scope)
	if err != nil {
		return "", nil, dbErr(err, "create API key")
	}
	return secret, k, nil
}

const keyCols = `id, name, prefix, created_at, revoked_at, scope`

func scanKey(row pgx.Row) (*features.APIKey, error) {
	k := &features.APIKey{}
	if err := row.Scan(&k.ID, &k.Name, &k.Prefix, &k.CreatedAt, &k.RevokedAt, &k.Scope); err != nil {
		return nil, err
	}
	k.CreatedAt = k.CreatedAt.UTC()
	if k.RevokedAt != nil {
		t := k.RevokedAt.UTC()
		k.RevokedAt = &t
	}
	return k, nil
}

// ListAPIKeys returns every key, newest first, without secrets.
func (db *DB) ListAPIKeys(ctx context.Context) ([]*features.APIKey, error) {
	rows, err := db.Pool.Query(ctx, `SELECT `+keyCols+` FROM api_keys ORDER BY created_at DESC, id`)
	if err != nil {
		return nil, dbErr(err, "list API keys")
	}
	keys, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*features.APIKey, error) { return scanKey(r) })
	return keys, dbErr(err, "list API keys")
}

// RevokeAPIKey revokes the key with this id or prefix (ENOTFOUND if none,
// ECONFLICT if a prefix matches several).
func (db *DB) RevokeAPIKey(ctx context.Context, idOrPrefix string) error {
	if idOrPrefix == "" {
		return features.Errorf(features.EINVALID, "empty API key id")
	}
	return pgx.BeginFunc(ctx, db.Pool, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT id FROM api_keys WHERE id = $1 OR prefix = $1`, idOrPrefix)
		if err != nil {
			return dbErr(err, "revoke API key")
		}
		ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return dbErr(err, "revoke API key")
		}
		switch len(ids) {
		case 0:
			return features.Errorf(features.ENOTFOUND, "API key %q not found", idOrPrefix)
		case 1:
		default:
			return features.Errorf(features.ECONFLICT, "%q matches %d API keys; use the id", idOrPrefix, len(ids))
		}
		_, err = tx.Exec(ctx, `UPDATE api_keys SET revoked_at = coalesce(revoked_at, $2) WHERE id = $1`, ids[0], db.now())
		if err != nil {
			return dbErr(err, "revoke API key")
		}
		// Its browser sessions end with it (SessionKey checks too).
		_, err = tx.Exec(ctx, `DELETE FROM sessions WHERE key_id = $1`, ids[0])
		return dbErr(err, "revoke API key")
	})
}

// Authenticate returns the key of a secret; EUNAUTHORIZED when it is
// unknown or revoked.
func (db *DB) Authenticate(ctx context.Context, secret string) (*features.APIKey, error) {
	if secret == "" {
		return nil, features.Errorf(features.EUNAUTHORIZED, "missing API key")
	}
	k, err := scanKey(db.Pool.QueryRow(ctx, `SELECT `+keyCols+` FROM api_keys WHERE secret_hash = $1`, hashSecret(secret)))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, features.Errorf(features.EUNAUTHORIZED, "unknown API key")
	}
	if err != nil {
		return nil, dbErr(err, "check API key")
	}
	if k.RevokedAt != nil {
		return nil, features.Errorf(features.EUNAUTHORIZED, "API key revoked")
	}
	return k, nil
}

var _ features.SessionService = (*DB)(nil)

// CreateSession starts a browser session for a key: the cookie gets 32
// random bytes, the table only their SHA-256.
func (db *DB) CreateSession(ctx context.Context, keyID string, ttl time.Duration) (string, error) {
	if ttl <= 0 {
		return "", features.Errorf(features.EINVALID, "session lifetime must be positive")
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", features.Wrap(features.EINTERNAL, err, "random session token")
	}
	token := base64.RawURLEncoding.EncodeToString(raw)
	now := db.now()
	// Expired sessions of this key go when it logs in again.
	_, err := db.Pool.Exec(ctx, `WITH gone AS (DELETE FROM sessions WHERE key_id = $2 AND expires_at <= $3)
		INSERT INTO sessions (token_hash, key_id, created_at, expires_at) VALUES ($1, $2, $3, $4)`,
		hashSecret(token), keyID, now, now.Add(ttl))
	if err != nil {
		return "", dbErr(err, "create session")
	}
	return token, nil
}

// SessionKey returns the key of a live session; EUNAUTHORIZED when the
// session is unknown, expired or its key revoked.
func (db *DB) SessionKey(ctx context.Context, token string) (*features.APIKey, error) {
	if token == "" {
		return nil, features.Errorf(features.EUNAUTHORIZED, "missing session")
	}
	var expires time.Time
	k, err := scanKey(scanExtra{db.Pool.QueryRow(ctx, `SELECT k.id, k.name, k.prefix, k.created_at, k.revoked_at, k.scope, s.expires_at
		FROM sessions s JOIN api_keys k ON k.id = s.key_id WHERE s.token_hash = $1`, hashSecret(token)), &expires})
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, features.Errorf(features.EUNAUTHORIZED, "unknown or ended session: log in again")
	}
	if err != nil {
		return nil, dbErr(err, "check session")
	}
	if k.RevokedAt != nil {
		return nil, features.Errorf(features.EUNAUTHORIZED, "API key revoked")
	}
	if !expires.After(db.now()) {
		return nil, features.Errorf(features.EUNAUTHORIZED, "session expired: log in again")
	}
	return k, nil
}

// DeleteSession ends a session.
func (db *DB) DeleteSession(ctx context.Context, token string) error {
	_, err := db.Pool.Exec(ctx, `DELETE FROM sessions WHERE token_hash = $1`, hashSecret(token))
	return dbErr(err, "delete session")
}

var _ features.SourceOwners = (*DB)(nil)

// SourceOwner returns the key that created a source through an upload, or
// "" when the admin owns it; ENOTFOUND when the source does not exist.
func (db *DB) SourceOwner(ctx context.Context, modelID, sourceID string) (string, error) {
	var owner *string
	err := db.Pool.QueryRow(ctx, `SELECT owner_key FROM sources WHERE model_id = $1 AND id = $2`, modelID, sourceID).Scan(&owner)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", features.Errorf(features.ENOTFOUND, "source %s/%s not found", modelID, sourceID)
	}
	if err != nil {
		return "", dbErr(err, "owner of source %s/%s", modelID, sourceID)
	}
	if owner == nil {
		return "", nil
	}
	return *owner, nil
}
