package store

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/jackc/pgx/v5"

	"saex/internal/features"
)

var _ features.EmbeddingStore = (*DB)(nil)

// maxEmbeddingDims bounds stored vectors (OpenAI's largest has 3072).
const maxEmbeddingDims = 8192

func validateEmbeddings(embs []features.ExplanationEmbedding) error {
	for i, e := range embs {
		what := fmt.Sprintf("embedding %d (explanation %q, model %q)", i, e.ExplanationID, e.Model)
		if err := checkText(what, e.ExplanationID, e.Model); err != nil {
			return err
		}
		switch {
		case e.ExplanationID == "" || e.Model == "":
			return features.Errorf(features.EINVALID, "%s: explanation id and model are required", what)
		case len(e.Vector) == 0 || len(e.Vector) > maxEmbeddingDims:
			return features.Errorf(features.EINVALID, "%s: has %d values, want 1 to %d", what, len(e.Vector), maxEmbeddingDims)
		}
		for j, v := range e.Vector {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return features.Errorf(features.EINVALID, "%s: value %d is %v", what, j, v)
			}
		}
	}
	return nil
}

const upsertEmbedding = `INSERT INTO explanation_embeddings (explanation_id, model, dims, vec)
	VALUES ($1, $2, $3, $4)
	ON CONFLICT (explanation_id, model) DO UPDATE SET dims = EXCLUDED.dims, vec = EXCLUDED.vec,
	  seq = nextval('explanation_embeddings_seq'), created_at = now()
	WHERE explanation_embeddings.vec IS DISTINCT FROM EXCLUDED.vec`

// WriteExplanationEmbeddings upserts embeddings by (explanation, model) in
// one transaction; ENOTFOUND names the first missing explanation.
func (db *DB) WriteExplanationEmbeddings(ctx context.Context, embs []features.ExplanationEmbedding) error {
	if len(embs) == 0 {
		return nil
	}
	if err := validateEmbeddings(embs); err != nil {
		return err
	}
	ids := make([]string, len(embs))
	for i, e := range embs {
		ids[i] = e.ExplanationID
	}
	err := pgx.BeginFunc(ctx, db.Pool, func(tx pgx.Tx) error {
		var missing *string
		if err := tx.QueryRow(ctx, `SELECT min(i.id) FROM unnest($1::text[]) i(id)
			WHERE NOT EXISTS (SELECT 1 FROM explanations e WHERE e.id = i.id)`, ids).Scan(&missing); err != nil {
			return err
		}
		if missing != nil {
			return features.Errorf(features.ENOTFOUND, "explanation %q not found", *missing)
		}
		batch := &pgx.Batch{}
		for _, e := range embs {
			batch.Queue(upsertEmbedding, e.ExplanationID, e.Model, int32(len(e.Vector)), e.Vector)
		}
		return tx.SendBatch(ctx, batch).Close()
	})
	return dbErr(err, "write %d explanation embeddings", len(embs))
}

// queueEmbeddingUpkeep queues, ahead of an explanation upsert, what keeps
// explanation_embeddings true to it: a changed description drops the
// explanation's embeddings (they describe the old text) and a move to
// another feature bumps their seq (the search index filters by source).
func queueEmbeddingUpkeep(batch *pgx.Batch, sids map[string]int32, exps []*features.Explanation) {
	ids := make([]string, len(exps))
	descs := make([]string, len(exps))
	sidOf := make([]int32, len(exps))
	for i, e := range exps {
		ids[i], descs[i], sidOf[i] = e.ID, e.Description, sids[e.ModelID+"\x00"+e.SourceID]
	}
	batch.Queue(`DELETE FROM explanation_embeddings ee USING explanations e, unnest($1::text[], $2::text[]) n(id, description)
		WHERE e.id = n.id AND ee.explanation_id = e.id AND e.description <> n.description`, ids, descs)
	batch.Queue(`UPDATE explanation_embeddings ee SET seq = nextval('explanation_embeddings_seq')
		FROM explanations e, unnest($1::text[], $2::int4[]) n(id, sid)
		WHERE e.id = n.id AND ee.explanation_id = e.id AND e.sid <> n.sid`, ids, sidOf)
}

// queueImportedEmbeddings queues the upsert of the imported embeddings of
// exps (written to explanations.embedding just before) as rows of
// features.ImportedEmbeddingModel, leaving unchanged vectors untouched.
func queueImportedEmbeddings(batch *pgx.Batch, exps []*features.Explanation) {
	var ids []string
	for _, e := range exps {
		if len(e.Embedding) > 0 {
			ids = append(ids, e.ID)
		}
	}
	if len(ids) == 0 {
		return
	}
	batch.Queue(`INSERT INTO explanation_embeddings (explanation_id, model, dims, vec)
		SELECT id, $2, cardinality(embedding), embedding FROM explanations WHERE id = ANY($1) AND cardinality(embedding) > 0
		ON CONFLICT (explanation_id, model) DO UPDATE SET dims = EXCLUDED.dims, vec = EXCLUDED.vec,
		  seq = nextval('explanation_embeddings_seq'), created_at = now()
		WHERE explanation_embeddings.vec IS DISTINCT FROM EXCLUDED.vec`, ids, features.ImportedEmbeddingModel)
}

// ExplanationsToEmbed returns up to limit explanations after afterID (in ID
// order) that have no embedding of model with dims values (dims 0: none
// of model at all); only ID, Description and CreatedAt are set.
func (db *DB) ExplanationsToEmbed(ctx context.Context, model string, dims int, afterID string, limit int) ([]*features.Explanation, error) {
	if model == "" || limit <= 0 || dims < 0 {
		return nil, features.Errorf(features.EINVALID, "explanations to embed: model %q, dims %d, limit %d", model, dims, limit)
	}
	rows, err := db.Pool.Query(ctx, `SELECT e.id, e.description, e.created_at FROM explanations e
		WHERE e.id > $3 AND NOT EXISTS (SELECT 1 FROM explanation_embeddings ee
		  WHERE ee.explanation_id = e.id AND ee.model = $1 AND ($2 = 0 OR ee.dims = $2))
		ORDER BY e.id LIMIT $4`, model, int32(dims), afterID, int32(limit))
	if err != nil {
		return nil, dbErr(err, "list explanations to embed")
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*features.Explanation, error) {
		e := &features.Explanation{}
		err := r.Scan(&e.ID, &e.Description, &e.CreatedAt)
		return e, err
	})
	return out, dbErr(err, "list explanations to embed")
}

// EmbeddingsVersion reads count, sum and max of seq of model's dims-long
// embeddings from the (model, dims, seq) index.
func (db *DB) EmbeddingsVersion(ctx context.Context, model string, dims int) (features.EmbeddingsVersion, error) {
	return embeddingsVersion(ctx, db.Pool, model, dims)
}

func embeddingsVersion(ctx context.Context, q interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}, model string, dims int) (features.EmbeddingsVersion, error) {
	var v features.EmbeddingsVersion
	err := q.QueryRow(ctx, `SELECT count(*), coalesce(sum(seq), 0)::int8, coalesce(max(seq), 0)
		FROM explanation_embeddings WHERE model = $1 AND dims = $2`,
		model, int32(dims)).Scan(&v.Count, &v.SeqSum, &v.MaxSeq)
	return v, dbErr(err, "read the embeddings version")
}

// ScanExplanationEmbeddings streams model's dims-long embeddings with seq
// above afterSeq, in no particular order, from one snapshot (a
// repeatable-read transaction), so the version it returns is exactly that
// of the rows fn saw. Vectors are decoded from
// PostgreSQL's binary float4[] straight into one reused slice.
func (db *DB) ScanExplanationEmbeddings(ctx context.Context, model string, dims int, afterSeq int64,
	fn func(src *features.EmbeddedSource, explanationID string, seq int64, vec []float32) error) (features.EmbeddingsVersion, error) {
	if model == "" || dims <= 0 || dims > maxEmbeddingDims {
		return features.EmbeddingsVersion{}, features.Errorf(features.EINVALID, "scan embeddings: model %q, dims %d", model, dims)
	}
	var ver features.EmbeddingsVersion
	err := pgx.BeginTxFunc(ctx, db.Pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		var err error
		if ver, err = embeddingsVersion(ctx, tx, model, dims); err != nil {
			return err
		}
		srcRows, err := tx.Query(ctx, `SELECT s.sid, s.model_id, s.id, coalesce(ss.release_name, '')
			FROM sources s JOIN source_sets ss ON ss.model_id = s.model_id AND ss.name = s.set_name`)
		if err != nil {
			return err
		}
		srcs := map[int32]*features.EmbeddedSource{}
		for srcRows.Next() {
			var sid int32
			s := &features.EmbeddedSource{}
			if err := srcRows.Scan(&sid, &s.ModelID, &s.SourceID, &s.ReleaseName); err != nil {
				srcRows.Close()
				return err
			}
			srcs[sid] = s
		}
		if err := srcRows.Err(); err != nil {
			return err
		}
		// One binary format code applies to every column (int4, text, real[]).
		// No ORDER BY: sorting a million 1 KiB rows spills to disk and took
		// most of the load time; the index groups rows by source itself.
		rows, err := tx.Query(ctx, `SELECT e.sid, ee.explanation_id, ee.seq, ee.vec FROM explanation_embeddings ee
			JOIN explanations e ON e.id = ee.explanation_id
			WHERE ee.model = $1 AND ee.dims = $2 AND ee.seq > $3`, pgx.QueryResultFormats{pgx.BinaryFormatCode}, model, int32(dims), afterSeq)
		if err != nil {
			return err
		}
		defer rows.Close()
		vec := make([]float32, dims)
		for rows.Next() {
			raw := rows.RawValues()
			if len(raw) != 4 || len(raw[0]) != 4 || len(raw[2]) != 8 {
				return fmt.Errorf("scan embeddings: unexpected row shape")
			}
			sid := int32(binary.BigEndian.Uint32(raw[0]))
			src := srcs[sid]
			if src == nil {
				return fmt.Errorf("scan embeddings: source %d appeared during the scan", sid)
			}
			id, seq := string(raw[1]), int64(binary.BigEndian.Uint64(raw[2]))
			if err := decodeFloat4Array(raw[3], vec); err != nil {
				return fmt.Errorf("scan embeddings: explanation %q: %w", id, err)
			}
			if err := fn(src, id, seq, vec); err != nil {
				return err
			}
		}
		return rows.Err()
	})
	return ver, dbErr(err, "scan explanation embeddings")
}

var errFloat4Array = errors.New("not a one-dimensional float4 array without NULLs of the expected length")

// float4OID is PostgreSQL's type oid of real.
const float4OID = 700

// decodeFloat4Array decodes PostgreSQL's binary array format (ndim, has
// nulls, element oid, per dimension length and lower bound, then per element
// a length and the value, all big-endian) of a real[] into dst, which must
// be exactly as long as the array.
func decodeFloat4Array(b []byte, dst []float32) error {
	if len(b) < 20 || binary.BigEndian.Uint32(b[0:]) != 1 || binary.BigEndian.Uint32(b[4:]) != 0 ||
		binary.BigEndian.Uint32(b[8:]) != float4OID || int(binary.BigEndian.Uint32(b[12:])) != len(dst) ||
		len(b) != 20+8*len(dst) {
		return errFloat4Array
	}
	b = b[20:]
	for i := range dst {
		if binary.BigEndian.Uint32(b) != 4 {
			return errFloat4Array
		}
		dst[i] = math.Float32frombits(binary.BigEndian.Uint32(b[4:]))
		b = b[8:]
	}
	return nil
}

// ExplanationsByID returns the explanations (with scores, model and
// source) of ids; missing ones are left out.
func (db *DB) ExplanationsByID(ctx context.Context, ids []string) ([]*features.Explanation, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	rows, err := db.Pool.Query(ctx, `SELECT e.id, src.model_id, src.id FROM explanations e JOIN sources src ON src.sid = e.sid
		WHERE e.id = ANY($1)`, ids)
	if err != nil {
		return nil, dbErr(err, "load explanations")
	}
	type place struct{ model, source string }
	where := map[string]place{}
	for rows.Next() {
		var id string
		var p place
		if err := rows.Scan(&id, &p.model, &p.source); err != nil {
			rows.Close()
			return nil, dbErr(err, "load explanations")
		}
		where[id] = p
	}
	if err := rows.Err(); err != nil {
		return nil, dbErr(err, "load explanations")
	}
	erows, err := db.Pool.Query(ctx, explanationSelect+` WHERE e.id = ANY($1)`+explanationOrder, ids)
	if err != nil {
		return nil, dbErr(err, "load explanations")
	}
	exps, err := loadExplanations(erows, "", "")
	if err != nil {
		return nil, dbErr(err, "load explanations")
	}
	out := exps[:0]
	for _, e := range exps {
		if p, ok := where[e.ID]; ok {
			e.ModelID, e.SourceID = p.model, p.source
			out = append(out, e)
		}
	}
	return out, nil
}

// SearchRanking is full text: the store ranks explanations by PostgreSQL
// full-text search (internal/features/semsearch adds semantic ranking).
func (db *DB) SearchRanking() features.SearchRanking { return features.RankFullText }
