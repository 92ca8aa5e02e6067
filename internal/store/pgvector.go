package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"saex/internal/features"
)

// pgvector, when the server has it, ranks explanation embeddings in the
// database: an HNSW index over the real[] column cast to vector(dims), one
// partial index per embedding model and size. Untested where pgvector is
// not installed (as on saex's CI machine); see docs/autointerp.md.

var _ features.VectorSearcher = (*DB)(nil)

// ExtensionAvailable reports whether the server can CREATE EXTENSION name
// (pg_available_extensions lists it), installed or not.
func (db *DB) ExtensionAvailable(ctx context.Context, name string) (bool, error) {
	var ok bool
	err := db.Pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = $1)`, name).Scan(&ok)
	return ok, dbErr(err, "look for extension %s", name)
}

// quoteLiteral quotes s as an SQL string literal (standard_conforming_strings
// is on, PostgreSQL's default since 9.1). The embedding model is written
// into the index predicate and the query as a literal so that the planner
// matches the partial index whatever the plan cache does.
func quoteLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// vectorIndexName is the HNSW index of one model and size.
func vectorIndexName(model string, dims int) string {
	h := sha256.Sum256([]byte(model + "\x00" + strconv.Itoa(dims)))
	return "explanation_embeddings_hnsw_" + hex.EncodeToString(h[:6])
}

// vectorIndexSQL is the statement creating the HNSW index of model's
// dims-long embeddings.
func vectorIndexSQL(model string, dims int) string {
	return fmt.Sprintf(`CREATE INDEX IF NOT EXISTS %s ON explanation_embeddings
		USING hnsw ((vec::vector(%d)) vector_cosine_ops) WHERE model = %s AND dims = %d`,
		pgx.Identifier{vectorIndexName(model, dims)}.Sanitize(), dims, quoteLiteral(model), dims)
}

// EnableVectorSearch creates the vector extension (if it is not yet) and,
// when dims > 0, the HNSW index of model's dims-long embeddings; pgvector's
// HNSW indexes take at most 2000 dimensions.
func (db *DB) EnableVectorSearch(ctx context.Context, model string, dims int) error {
	if err := checkText("embedding model", model); err != nil {
		return err
	}
	if _, err := db.Pool.Exec(ctx, `CREATE EXTENSION IF NOT EXISTS vector`); err != nil {
		return dbErr(err, "create extension vector")
	}
	if dims <= 0 || dims > 2000 {
		return nil
	}
	_, err := db.Pool.Exec(ctx, vectorIndexSQL(model, dims))
	return dbErr(err, "create the vector index of %s", model)
}

// vectorLiteral formats v as pgvector's text input, e.g. [0.5,-1,2e-07].
func vectorLiteral(v []float32) string {
	b := make([]byte, 0, len(v)*12+2)
	b = append(b, '[')
	for i, x := range v {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendFloat(b, float64(x), 'g', -1, 32)
	}
	return string(append(b, ']'))
}

// vectorSearchSQL is the ranking query: the filters of the full-text search
// ($1 model, $2 sources, $3 release), then distance order, which the HNSW
// index serves ($4 the query vector, $5 limit, $6 offset).
func vectorSearchSQL(model string, dims int) (count, page string) {
	where := fmt.Sprintf(` FROM explanation_embeddings ee JOIN explanations e ON e.id = ee.explanation_id
		  JOIN sources src ON src.sid = e.sid
		WHERE ee.model = %s AND ee.dims = %d
		  AND ($1 = '' OR src.model_id = $1) AND (cardinality($2::text[]) = 0 OR src.id = ANY($2))
		  AND ($3 = '' OR EXISTS (SELECT 1 FROM source_sets ss
		    WHERE ss.model_id = src.model_id AND ss.name = src.set_name AND ss.release_name = $3))`, quoteLiteral(model), dims)
	dist := fmt.Sprintf(`(ee.vec::vector(%d) <=> $4::text::vector(%d))`, dims, dims)
	count = `SELECT count(*)` + where
	page = `SELECT e.id, 1 - ` + dist + where + ` ORDER BY ` + dist + ` LIMIT $5 OFFSET $6`
	return count, page
}

// SearchExplanationsByVector ranks model's embeddings of len(vec) values by
// cosine similarity to vec with pgvector (approximate when the HNSW index
// serves it: hnsw.ef_search bounds the candidates, and with filters
// pgvector 0.8's iterative scan keeps looking in strict order).
func (db *DB) SearchExplanationsByVector(ctx context.Context, q features.ExplanationQuery, model string, vec []float32) ([]*features.ExplanationHit, int, error) {
	if len(vec) == 0 || len(vec) > maxEmbeddingDims {
		return nil, 0, features.Errorf(features.EINVALID, "query vector has %d values", len(vec))
	}
	if q.Limit <= 0 {
		q.Limit = 20
	}
	if q.Limit > 1000 || q.Offset < 0 {
		return nil, 0, features.Errorf(features.EINVALID, "invalid offset %d or limit %d", q.Offset, q.Limit)
	}
	srcs := nonNil(q.SourceIDs)
	countSQL, pageSQL := vectorSearchSQL(model, len(vec))
	lit := vectorLiteral(vec)
	type hit struct {
		id  string
		cos float64
	}
	var total int
	var hits []hit
	err := pgx.BeginTxFunc(ctx, db.Pool, pgx.TxOptions{AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, countSQL, q.ModelID, srcs, q.ReleaseName).Scan(&total); err != nil {
			return err
		}
		if total == 0 || q.Offset >= total {
			return nil
		}
		var ver string
		if err := tx.QueryRow(ctx, `SELECT extversion FROM pg_extension WHERE extname = 'vector'`).Scan(&ver); err != nil {
			return err
		}
		if iterativeScan(ver) {
			if _, err := tx.Exec(ctx, `SET LOCAL hnsw.iterative_scan = strict_order`); err != nil {
				return err
			}
		}
		if _, err := tx.Exec(ctx, fmt.Sprintf(`SET LOCAL hnsw.ef_search = %d`, min(1000, max(40, q.Offset+q.Limit)))); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, pageSQL, q.ModelID, srcs, q.ReleaseName, lit, q.Limit, q.Offset)
		if err != nil {
			return err
		}
		hits, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (hit, error) {
			var h hit
			err := r.Scan(&h.id, &h.cos)
			return h, err
		})
		return err
	})
	if err != nil {
		return nil, 0, dbErr(err, "search explanations by vector")
	}
	ids := make([]string, len(hits))
	for i, h := range hits {
		ids[i] = h.id
	}
	exps, err := db.ExplanationsByID(ctx, ids)
	if err != nil {
		return nil, 0, err
	}
	byID := make(map[string]*features.Explanation, len(exps))
	for _, e := range exps {
		byID[e.ID] = e
	}
	out := make([]*features.ExplanationHit, 0, len(hits))
	for _, h := range hits {
		if e := byID[h.id]; e != nil {
			cos := h.cos
			out = append(out, &features.ExplanationHit{Explanation: e, Rank: cos, CosineSimilarity: &cos})
		}
	}
	return out, total, nil
}

// iterativeScan reports whether pgvector version v (e.g. "0.8.0") has
// hnsw.iterative_scan, which came in 0.8.0.
func iterativeScan(v string) bool {
	parts := strings.SplitN(v, ".", 3)
	if len(parts) < 2 {
		return false
	}
	major, err1 := strconv.Atoi(parts[0])
	minor, err2 := strconv.Atoi(parts[1])
	return err1 == nil && err2 == nil && (major > 0 || minor >= 8)
}
