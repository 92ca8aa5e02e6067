package store

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"

	"saex/internal/features"
)

var _ features.ListService = (*DB)(nil)

const listCols = `l.id, l.name, l.description, l.default_test_text, l.user_id, l.created_at, l.updated_at`

func scanList(row pgx.Row, extra ...any) (*features.List, error) {
	l := &features.List{}
	err := row.Scan(append([]any{&l.ID, &l.Name, &l.Description, &l.DefaultTestText, &l.UserID, &l.CreatedAt, &l.UpdatedAt}, extra...)...)
	if err != nil {
		return nil, err
	}
	l.CreatedAt, l.UpdatedAt = l.CreatedAt.UTC(), l.UpdatedAt.UTC()
	return l, nil
}

// CreateList inserts a new list.
func (db *DB) CreateList(ctx context.Context, l *features.List) error {
	if err := checkText("list", l.Name, l.Description, l.UserID); err != nil {
		return err
	}
	if err := checkTextPtr("list", l.DefaultTestText); err != nil {
		return err
	}
	now := db.now()
	id := newID("l")
	_, err := db.Pool.Exec(ctx, `INSERT INTO lists (id, name, description, default_test_text, user_id, created_at, updated_at)
		VALUES ($1,$2,$3,$4,$5,$6,$6)`, id, l.Name, l.Description, l.DefaultTestText, l.UserID, now)
	if err != nil {
		return dbErr(err, "create list %q", l.Name)
	}
	l.ID, l.CreatedAt, l.UpdatedAt = id, now, now
	return nil
}

// GetList returns a list and its members in the order they were added.
func (db *DB) GetList(ctx context.Context, id string) (*features.List, []*features.ListFeature, error) {
	l, err := scanList(db.Pool.QueryRow(ctx, `SELECT `+listCols+` FROM lists l WHERE l.id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil, features.Errorf(features.ENOTFOUND, "list %q not found", id)
	}
	if err != nil {
		return nil, nil, dbErr(err, "get list %q", id)
	}
	rows, err := db.Pool.Query(ctx, `SELECT lf.list_id, s.model_id, s.id, lf.idx, lf.description, lf.user_id, lf.added_at
		FROM list_features lf JOIN sources s ON s.sid = lf.sid
		WHERE lf.list_id = $1 ORDER BY lf.added_at, s.model_id, s.id, lf.idx`, id)
	if err != nil {
		return nil, nil, dbErr(err, "get list %q", id)
	}
	members, err := pgx.CollectRows(rows, scanListFeature)
	if err != nil {
		return nil, nil, dbErr(err, "get list %q", id)
	}
	return l, members, nil
}

func scanListFeature(r pgx.CollectableRow) (*features.ListFeature, error) {
	m := &features.ListFeature{}
	err := r.Scan(&m.ListID, &m.ModelID, &m.SourceID, &m.Index, &m.Description, &m.UserID, &m.AddedAt)
	m.AddedAt = m.AddedAt.UTC()
	return m, err
}

// ownList locks a list for a change by owner: ENOTFOUND without it,
// EFORBIDDEN when another key created it.
func ownList(ctx context.Context, tx pgx.Tx, listID, owner string) error {
	var user string
	err := tx.QueryRow(ctx, `SELECT user_id FROM lists WHERE id = $1 FOR UPDATE`, listID).Scan(&user)
	if errors.Is(err, pgx.ErrNoRows) {
		return features.Errorf(features.ENOTFOUND, "list %q not found", listID)
	}
	if err != nil {
		return err
	}
	if user != owner {
		return features.Errorf(features.EFORBIDDEN, "list %q belongs to another API key", listID)
	}
	return nil
}

// AddListFeatures adds members to a list, all or none.
func (db *DB) AddListFeatures(ctx context.Context, listID, owner string, members []*features.ListFeature) ([]*features.ListFeature, error) {
	sids := make([]int32, len(members))
	for i, m := range members {
		if err := m.Key().Validate(); err != nil {
			return nil, err
		}
		if err := checkText("list feature description", m.Description); err != nil {
			return nil, err
		}
		sid, err := db.sourceID(ctx, m.ModelID, m.SourceID)
		if err != nil {
			return nil, err
		}
		sids[i] = sid
	}
	var added []*features.ListFeature
	err := pgx.BeginFunc(ctx, db.Pool, func(tx pgx.Tx) error {
		if err := ownList(ctx, tx, listID, owner); err != nil {
			return err
		}
		now := db.now()
		for i, m := range members {
			var exists bool
			if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM features WHERE sid = $1 AND idx = $2)`, sids[i], m.Index).Scan(&exists); err != nil {
				return err
			}
			if !exists {
				return features.Errorf(features.ENOTFOUND, "feature %s not found", m.Key())
			}
			tag, err := tx.Exec(ctx, `INSERT INTO list_features (list_id, sid, idx, description, user_id)
				VALUES ($1,$2,$3,$4,$5) ON CONFLICT DO NOTHING`, listID, sids[i], m.Index, m.Description, owner)
			if err != nil {
				return err
			}
			if tag.RowsAffected() == 1 {
				c := *m
				c.ListID, c.UserID, c.AddedAt = listID, owner, now
				added = append(added, &c)
			}
		}
		_, err := tx.Exec(ctx, `UPDATE lists SET updated_at = $2 WHERE id = $1`, listID, now)
		return err
	})
	if err != nil {
		return nil, dbErr(err, "add features to list %q", listID)
	}
	return added, nil
}

// RemoveListFeature removes one member of a list.
func (db *DB) RemoveListFeature(ctx context.Context, listID, owner string, key features.FeatureKey) error {
	if err := key.Validate(); err != nil {
		return err
	}
	err := pgx.BeginFunc(ctx, db.Pool, func(tx pgx.Tx) error {
		if err := ownList(ctx, tx, listID, owner); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `DELETE FROM list_features lf USING sources s
			WHERE lf.list_id = $1 AND s.sid = lf.sid AND s.model_id = $2 AND s.id = $3 AND lf.idx = $4`,
			listID, key.ModelID, key.SourceID, key.Index)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return features.Errorf(features.ENOTFOUND, "feature %s is not in list %q", key, listID)
		}
		_, err = tx.Exec(ctx, `UPDATE lists SET updated_at = $2 WHERE id = $1`, listID, db.now())
		return err
	})
	return dbErr(err, "remove a feature from list %q", listID)
}

// ListsOwned returns the lists an API key created, newest first.
func (db *DB) ListsOwned(ctx context.Context, owner string) ([]*features.List, error) {
	rows, err := db.Pool.Query(ctx, `SELECT `+listCols+` FROM lists l WHERE l.user_id = $1 ORDER BY l.created_at DESC, l.id`, owner)
	if err != nil {
		return nil, dbErr(err, "list lists")
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*features.List, error) { return scanList(r) })
	return out, dbErr(err, "list lists")
}

// ListsWithFeature returns a feature's list memberships with their lists.
func (db *DB) ListsWithFeature(ctx context.Context, key features.FeatureKey) ([]*features.ListFeature, []*features.List, error) {
	rows, err := db.Pool.Query(ctx, `SELECT `+listCols+`, lf.description, lf.user_id, lf.added_at
		FROM list_features lf JOIN sources s ON s.sid = lf.sid JOIN lists l ON l.id = lf.list_id
		WHERE s.model_id = $1 AND s.id = $2 AND lf.idx = $3 ORDER BY lf.added_at, l.id`, key.ModelID, key.SourceID, key.Index)
	if err != nil {
		return nil, nil, dbErr(err, "lists of %s", key)
	}
	members, lists, err := scanMemberships(rows, key)
	return members, lists, dbErr(err, "lists of %s", key)
}

// listsOfFeature selects the memberships of feature $2 of source sid $1
// as ListsWithFeature does, for scanMemberships.
const listsOfFeature = `SELECT ` + listCols + `, lf.description, lf.user_id, lf.added_at
	FROM list_features lf JOIN lists l ON l.id = lf.list_id
	WHERE lf.sid = $1 AND lf.idx = $2 ORDER BY lf.added_at, l.id`

// scanMemberships reads and closes the rows of a memberships query of the
// feature key.
func scanMemberships(rows pgx.Rows, key features.FeatureKey) ([]*features.ListFeature, []*features.List, error) {
	defer rows.Close()
	var members []*features.ListFeature
	var lists []*features.List
	for rows.Next() {
		m := &features.ListFeature{ModelID: key.ModelID, SourceID: key.SourceID, Index: key.Index}
		l, err := scanList(rows, &m.Description, &m.UserID, &m.AddedAt)
		if err != nil {
			return nil, nil, err
		}
		m.ListID, m.AddedAt = l.ID, m.AddedAt.UTC()
		members, lists = append(members, m), append(lists, l)
	}
	return members, lists, rows.Err()
}
