package store

import (
	"cmp"
	"context"
	"slices"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"saex/internal/features"
)

// tokenDict is the in-memory copy of one model's token dictionary. Ids are
// dense and never change once committed, so the cache never goes stale; it
// only grows.
type tokenDict struct {
	mu     sync.RWMutex
	byText map[string]int32
	byID   []string // index = id; "" with ok=false marks a hole not yet loaded
	have   []bool
}

func (db *DB) dict(model string) *tokenDict {
	if v, ok := db.dicts.Load(model); ok {
		return v.(*tokenDict)
	}
	v, _ := db.dicts.LoadOrStore(model, &tokenDict{byText: map[string]int32{}})
	return v.(*tokenDict)
}

func (d *tokenDict) add(id int32, text string) {
	d.byText[text] = id
	for int(id) >= len(d.byID) {
		d.byID = append(d.byID, "")
		d.have = append(d.have, false)
	}
	d.byID[id] = text
	d.have[id] = true
}

// internTokens returns the dictionary ids of the texts in counts (each
// with its number of uses), adding unknown strings to the model's
// dictionary in a short transaction of its own. A per-model advisory lock
// serialises id assignment across workers and processes; entries left
// behind by a rolled-back batch are harmless.
func (db *DB) internTokens(ctx context.Context, model string, counts map[string]int) (map[string]int32, error) {
	d := db.dict(model)
	ids := make(map[string]int32, len(counts))
	type use struct {
		text string
		n    int
	}
	var uses []use
	d.mu.RLock()
	for t, n := range counts {
		if id, ok := d.byText[t]; ok {
			ids[t] = id // added by another writer meanwhile
		} else {
			uses = append(uses, use{t, n})
		}
	}
	d.mu.RUnlock()
	if len(uses) == 0 {
		return ids, nil
	}
	// Most frequent first, so common tokens get small ids (one varint byte).
	slices.SortFunc(uses, func(a, b use) int {
		if a.n != b.n {
			return cmp.Compare(b.n, a.n)
		}
		return strings.Compare(a.text, b.text)
	})
	missing := make([]string, len(uses))
	for i, u := range uses {
		missing[i] = u.text
	}
	raw := make([][]byte, len(missing))
	for i, t := range missing {
		raw[i] = []byte(t)
	}
	err := pgx.BeginFunc(ctx, db.Pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('saex.tokens'), hashtext($1))`, model); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO tokens (model_id, id, text)
			SELECT $1, base.n + t.ord - 1, t.text
			FROM (SELECT coalesce(max(id) + 1, 0) AS n FROM tokens WHERE model_id = $1) base,
			     (SELECT text, row_number() OVER (ORDER BY ord) AS ord
			        FROM unnest($2::bytea[]) WITH ORDINALITY AS u(text, ord)
			       WHERE NOT EXISTS (SELECT 1 FROM tokens k WHERE k.model_id = $1 AND k.text = u.text)) t`,
			model, raw)
		return err
	})
	if err != nil {
		return nil, dbErr(err, "add tokens to the dictionary of %q", model)
	}
	rows, err := db.Pool.Query(ctx, `SELECT id, text FROM tokens WHERE model_id = $1 AND text = ANY($2::bytea[])`, model, raw)
	if err != nil {
		return nil, dbErr(err, "read token dictionary of %q", model)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.addRows(rows, model); err != nil {
		return nil, err
	}
	for _, t := range missing {
		id, ok := d.byText[t]
		if !ok {
			return nil, features.Errorf(features.EINTERNAL, "token %q missing from the dictionary of %q", t, model)
		}
		ids[t] = id
	}
	return ids, nil
}

// addRows adds (id, text) rows to the dictionary and closes them; the
// caller holds d.mu. The texts of one call share one string: a model's
// dictionary (~50,000 short tokens) is then a few objects for the garbage
// collector instead of one each, and contiguous for the readers that copy
// thousands of its strings per request.
func (d *tokenDict) addRows(rows pgx.Rows, model string) error {
	defer rows.Close()
	type entry struct {
		id  int32
		end int
	}
	var entries []entry
	var buf []byte
	for rows.Next() {
		var id int32
		var text pgtype.DriverBytes // valid until the next row: copied into buf
		if err := rows.Scan(&id, &text); err != nil {
			return dbErr(err, "read token dictionary of %q", model)
		}
		buf = append(buf, text...)
		entries = append(entries, entry{id, len(buf)})
	}
	if err := rows.Err(); err != nil {
		return dbErr(err, "read token dictionary of %q", model)
	}
	all := string(buf)
	start := 0
	for _, e := range entries {
		d.add(e.id, all[start:e.end])
		start = e.end
	}
	return nil
}

// tokenTable returns the model's dictionary with every id in ids cached,
// loading the missing range in one query (the first read of a model fills
// the cache in one go).
func (db *DB) tokenTable(ctx context.Context, q querier, model string, ids []int32) (*tokenDict, error) {
	d := db.dict(model)
	lo, hi := int32(-1), int32(-1)
	d.mu.RLock()
	for _, id := range ids {
		if int(id) >= len(d.have) || !d.have[id] {
			if lo < 0 || id < lo {
				lo = id
			}
			hi = max(hi, id)
		}
	}
	d.mu.RUnlock()
	if lo < 0 {
		return d, nil
	}
	rows, err := q.Query(ctx, `SELECT id, text FROM tokens WHERE model_id = $1 AND id >= $2`, model, lo)
	if err != nil {
		return nil, dbErr(err, "read token dictionary of %q", model)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.addRows(rows, model); err != nil {
		return nil, err
	}
	if int(hi) >= len(d.have) {
		return nil, features.Errorf(features.EINTERNAL, "token id %d missing from the dictionary of %q", hi, model)
	}
	return d, nil
}

// internName returns the id of a short repeated string (creator ids).
func (db *DB) internName(ctx context.Context, name string) (int32, error) {
	if v, ok := db.names.Load(name); ok {
		return v.(int32), nil
	}
	if err := checkText("creator id", name); err != nil {
		return 0, err
	}
	db.nameMu.Lock()
	defer db.nameMu.Unlock()
	var id int32
	err := db.Pool.QueryRow(ctx, `WITH ins AS (
		  INSERT INTO names (name) VALUES ($1) ON CONFLICT (name) DO NOTHING RETURNING id)
		SELECT id FROM ins UNION ALL SELECT id FROM names WHERE name = $1 LIMIT 1`, name).Scan(&id)
	if err != nil {
		return 0, dbErr(err, "intern name %q", name)
	}
	db.names.Store(name, id)
	return id, nil
}

// nameOf returns the string of a name id, loading the (small) table on a miss.
func (db *DB) nameOf(ctx context.Context, q querier, id int32) (string, error) {
	if v, ok := db.nameByID.Load(id); ok {
		return v.(string), nil
	}
	rows, err := q.Query(ctx, `SELECT id, name FROM names`)
	if err != nil {
		return "", dbErr(err, "read names")
	}
	defer rows.Close()
	for rows.Next() {
		var i int32
		var n string
		if err := rows.Scan(&i, &n); err != nil {
			return "", dbErr(err, "read names")
		}
		db.nameByID.Store(i, n)
	}
	if err := rows.Err(); err != nil {
		return "", dbErr(err, "read names")
	}
	if v, ok := db.nameByID.Load(id); ok {
		return v.(string), nil
	}
	return "", features.Errorf(features.EINTERNAL, "name id %d missing", id)
}
