// Package jobs runs dashboard builds and auto-interp jobs as River jobs
// (riverqueue/river) on any number of worker processes whose only shared
// state is PostgreSQL.
//
// Enqueue stores a build's plan and its shards' contexts and inserts one
// shard job per shard in one transaction. A shard job runs the model and
// the SAEs over its contexts (dashboard.ComputeShard) and stores the
// shard's sparse codes, per source, in one transaction that also marks
// the shard done; the transaction that completes the last shard enqueues
// one merge job per source. A merge job (dashboard.Merge) writes the
// source's dashboards, identical to a single-process build's, and drops
// the source's codes. A worker killed mid-job loses only that job: River
// rescues it (Config.RescueStuckJobsAfter) and retries it with backoff,
// and the rerun replaces nothing twice, since a shard's codes are written
// with its done mark and a merge resumes from the feature checkpoints.
//
// Auto-interp jobs run on the explain queue (explain.go): one River job
// per autointerp_jobs row, run by the worker's autointerp.Runner, which
// resumes from the explanation checkpoints after a retry or a rescue.
package jobs

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"

	"saex/internal/compute/sae"
	"saex/internal/compute/tokenizer"
	"saex/internal/compute/transformer"
	"saex/internal/features"
	"saex/internal/features/autointerp"
	"saex/internal/features/dashboard"
)

// Queues.
const (
	QueueBuild   = "build"
	QueueExplain = "explain"
)

// Migrate applies River's schema migrations (its own versioning, in
// river_migration) under an advisory lock, so that processes starting
// together do not race. River's versions run one transaction each (one
// adds an enum value, which PostgreSQL cannot use in the same
// transaction), so the lock is a session lock on a connection of its own.
func Migrate(ctx context.Context, pool *pgxpool.Pool, log *slog.Logger) error {
	m, err := rivermigrate.New(riverpgxv5.New(pool), nil)
	if err != nil {
		return fmt.Errorf("river migrations: %w", err)
	}
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("river migrations: %w", err)
	}
	defer conn.Release()
	const lock = `hashtext('saex river migrate')`
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock(`+lock+`)`); err != nil {
		return fmt.Errorf("river migrations: lock: %w", err)
	}
	defer conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock(`+lock+`)`)
	res, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil)
	if err != nil {
		return fmt.Errorf("river migrations: %w", err)
	}
	if log != nil {
		for _, v := range res.Versions {
			log.Info("migrated river", "version", v.Version, "took", v.Duration)
		}
	}
	return nil
}

// Spec is what a worker needs to take part in a build; it is stored with
// the build. The directories must hold the same files on every worker
// (Plan.InputsHash is checked).
type Spec struct {
	ModelID       string         `json:"modelId"`
	ModelDir      string         `json:"modelDir"`
	Sources       []SourceSpec   `json:"sources"`
	Corpus        string         `json:"corpus"` // for the record: workers read the stored contexts
	Dataset       string         `json:"dataset"`
	ContextSize   int            `json:"contextSize"`
	MaxContexts   int            `json:"maxContexts"`
	ChunkContexts int            `json:"chunkContexts"`
	BatchFeatures int            `json:"batchFeatures"`
	Plan          dashboard.Plan `json:"plan"`
}

// SourceSpec is one SAE of a build.
type SourceSpec struct {
	ID      string `json:"id"`
	SetName string `json:"setName"`
	Dir     string `json:"dir"`
}

// ShardArgs are a shard job's arguments.
type ShardArgs struct {
	Hash  string `json:"hash"`
	Shard int    `json:"shard"`
}

// Kind names the job type.
func (ShardArgs) Kind() string { return "dashboard_shard" }

// InsertOpts puts shard jobs on the build queue, once per shard.
func (ShardArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueBuild, MaxAttempts: 10, UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

// MergeArgs are a merge job's arguments.
type MergeArgs struct {
	Hash   string `json:"hash"`
	Source string `json:"source"`
}

// Kind names the job type.
func (MergeArgs) Kind() string { return "dashboard_merge" }

// InsertOpts puts merge jobs on the build queue, once per source.
func (MergeArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueBuild, MaxAttempts: 10, UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

// Enqueue stores a prepared build and inserts its shard jobs, in one
// transaction. Enqueueing a build again (same hash) inserts only what is
// missing: shards not done and, when every shard is done, the merges.
// It returns the number of shards still to compute.
func Enqueue(ctx context.Context, pool *pgxpool.Pool, spec Spec, prep *dashboard.Prepared) (int, error) {
	spec.Plan = prep.Plan
	raw, err := json.Marshal(spec)
	if err != nil {
		return 0, err
	}
	inserter, err := river.NewClient(riverpgxv5.New(pool), &river.Config{})
	if err != nil {
		return 0, fmt.Errorf("enqueue: %w", err)
	}
	tx, err := pool.Begin(ctx)
	if err != nil {
		return 0, fmt.Errorf("enqueue: %w", err)
	}
	defer tx.Rollback(ctx)
	p := spec.Plan
	tag, err := tx.Exec(ctx, `INSERT INTO dashboard_builds (hash, model_id, spec, shards, contexts)
		VALUES ($1, $2, $3, $4, $5) ON CONFLICT (hash) DO NOTHING`, p.Hash, spec.ModelID, raw, p.Shards(), p.Contexts)
	if err != nil {
		return 0, fmt.Errorf("enqueue: %w", err)
	}
	if tag.RowsAffected() == 1 {
		for s := 0; s < p.Shards(); s++ {
			data, err := prep.ShardContexts(s)
			if err != nil {
				return 0, err
			}
			_, n := p.ShardContextRange(s)
			if _, err := tx.Exec(ctx, `INSERT INTO dashboard_build_shards (hash, shard, n_contexts, contexts) VALUES ($1, $2, $3, $4)`,
				p.Hash, s, n, data); err != nil {
				return 0, fmt.Errorf("enqueue: shard %d: %w", s, err)
			}
		}
	}
	rows, err := tx.Query(ctx, `SELECT shard FROM dashboard_build_shards WHERE hash = $1 AND done_at IS NULL ORDER BY shard`, p.Hash)
	if err != nil {
		return 0, fmt.Errorf("enqueue: %w", err)
	}
	todo, err := pgx.CollectRows(rows, pgx.RowTo[int])
	if err != nil {
		return 0, fmt.Errorf("enqueue: %w", err)
	}
	var params []river.InsertManyParams
	for _, s := range todo {
		params = append(params, river.InsertManyParams{Args: ShardArgs{Hash: p.Hash, Shard: s}})
	}
	if len(todo) == 0 {
		for _, s := range spec.Sources {
			params = append(params, river.InsertManyParams{Args: MergeArgs{Hash: p.Hash, Source: s.ID}})
		}
	}
	if _, err := inserter.InsertManyTx(ctx, tx, params); err != nil {
		return 0, fmt.Errorf("enqueue: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, fmt.Errorf("enqueue: %w", err)
	}
	return len(todo), nil
}

// Progress is a build's progress as the database records it.
type Progress struct {
	Shards, ShardsDone     int
	Contexts, ContextsDone int
	Sources, SourcesMerged int
	Failed                 string // the last error of a job that gave up, if any
}

// BuildProgress reads a build's progress.
func BuildProgress(ctx context.Context, pool *pgxpool.Pool, hash string) (Progress, error) {
	var p Progress
	var raw []byte
	err := pool.QueryRow(ctx, `SELECT b.shards, b.contexts, b.spec,
		(SELECT count(*) FROM dashboard_build_shards s WHERE s.hash = b.hash AND s.done_at IS NOT NULL),
		(SELECT coalesce(sum(n_contexts), 0) FROM dashboard_build_shards s WHERE s.hash = b.hash AND s.done_at IS NOT NULL),
		(SELECT count(*) FROM dashboard_build_merges m WHERE m.hash = b.hash)
		FROM dashboard_builds b WHERE b.hash = $1`, hash).Scan(&p.Shards, &p.Contexts, &raw, &p.ShardsDone, &p.ContextsDone, &p.SourcesMerged)
	if err != nil {
		return p, fmt.Errorf("build progress: %w", err)
	}
	var spec Spec
	if err := json.Unmarshal(raw, &spec); err != nil {
		return p, fmt.Errorf("build progress: spec: %w", err)
	}
	p.Sources = len(spec.Sources)
	var errs []byte
	err = pool.QueryRow(ctx, `SELECT errors[array_length(errors, 1)] FROM river_job
		WHERE state IN ('discarded', 'cancelled') AND kind IN ('dashboard_shard', 'dashboard_merge') AND args->>'hash' = $1
		ORDER BY id DESC LIMIT 1`, hash).Scan(&errs)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
	case err != nil:
		return p, fmt.Errorf("build progress: %w", err)
	default:
		var e struct {
			Error string `json:"error"`
		}
		json.Unmarshal(errs, &e)
		p.Failed = e.Error
		if p.Failed == "" {
			p.Failed = "a job gave up"
		}
	}
	return p, nil
}

// Deps are what the workers use.
type Deps struct {
	Pool   *pgxpool.Pool
	Writer features.FeatureWriter
	// Status, when set, records a source's build progress (the catalog's
	// SetBuildStatus).
	Status  func(ctx context.Context, modelID, sourceID string, st *features.BuildStatus) error
	WorkDir string // local scratch of the merges
	Log     *slog.Logger
	// ID names this worker in River (attempted_by) and in the cost rows.
	ID string
	// Explain runs auto-interp jobs (the explain queue) with this worker's
	// LLM settings; required for that queue only.
	Explain *autointerp.Runner
}

// WorkerConfig configures a worker.
type WorkerConfig struct {
	Queues      []string
	Concurrency int // jobs at once per queue (default 1)
	// ShardTimeout bounds a shard job (default 30 minutes). It is also
	// how long a killed worker's shard waits: River's rescuer reruns a job
	// still marked running once its timeout has passed.
	ShardTimeout time.Duration
	// MergeTimeout bounds a merge job likewise (default 4 hours).
	MergeTimeout time.Duration
	// ExplainTimeout bounds one try of an auto-interp job (default 30
	// minutes); a try that made progress goes on in the next one, so it is
	// chiefly how long a killed worker's auto-interp job waits.
	ExplainTimeout time.Duration
}

// NewWorker returns a River client that works the given queues; Start it,
// and Stop it to finish the running jobs.
func NewWorker(d Deps, cfg WorkerConfig) (*river.Client[pgx.Tx], error) {
	if d.Pool == nil || d.Writer == nil || d.WorkDir == "" {
		return nil, errors.New("worker: pool, writer and work directory are required")
	}
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	if d.ID == "" {
		host, _ := os.Hostname()
		d.ID = fmt.Sprintf("%s-%d", host, os.Getpid())
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 1
	}
	if len(cfg.Queues) == 0 {
		cfg.Queues = []string{QueueBuild}
	}
	cfg.ShardTimeout = cmp.Or(cfg.ShardTimeout, 30*time.Minute)
	cfg.MergeTimeout = cmp.Or(cfg.MergeTimeout, 4*time.Hour)
	cfg.ExplainTimeout = cmp.Or(cfg.ExplainTimeout, 30*time.Minute)
	w := &workers{d: d, cache: map[string]*loaded{}}
	ws := river.NewWorkers()
	river.AddWorker(ws, &shardWorker{w: w, timeout: cfg.ShardTimeout})
	river.AddWorker(ws, &mergeWorker{w: w, timeout: cfg.MergeTimeout})
	queues := map[string]river.QueueConfig{}
	// The shortest timeout of the kinds worked here: the rescuer's period.
	shortest := min(cfg.ShardTimeout, cfg.MergeTimeout)
	for _, q := range cfg.Queues {
		switch q {
		case QueueBuild:
			queues[q] = river.QueueConfig{MaxWorkers: cfg.Concurrency}
		case QueueExplain:
			if d.Explain == nil {
				return nil, errors.New("worker: the explain queue needs an LLM: set SAEX_LLM_BASE_URL and SAEX_LLM_MODEL")
			}
			queues[q] = river.QueueConfig{MaxWorkers: cfg.Concurrency}
			shortest = min(shortest, cfg.ExplainTimeout)
		default:
			return nil, fmt.Errorf("worker: unknown queue %q (want build or explain)", q)
		}
	}
	if d.Explain != nil {
		river.AddWorker(ws, &explainWorker{runner: d.Explain, timeout: cfg.ExplainTimeout})
	}
	return river.NewClient(riverpgxv5.New(d.Pool), &river.Config{
		ID:      d.ID,
		Queues:  queues,
		Workers: ws,
		// Every kind has its own Timeout; River wants this no longer than
		// the rescuer's period.
		JobTimeout: shortest,
		// The rescuer looks at jobs running for longer than this, then
		// reruns those past their own kind's timeout.
		RescueStuckJobsAfter: shortest + max(time.Second, shortest/10),
		// River reports its routine (job counts every few seconds) at
		// info; ours says what each job did.
		Logger: slog.New(atLeast{d.Log.Handler(), slog.LevelWarn}),
	})
}

// atLeast drops records below a level.
type atLeast struct {
	slog.Handler
	min slog.Level
}

func (h atLeast) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.min && h.Handler.Enabled(ctx, l)
}

func (h atLeast) WithAttrs(as []slog.Attr) slog.Handler {
	return atLeast{h.Handler.WithAttrs(as), h.min}
}
func (h atLeast) WithGroup(name string) slog.Handler {
	return atLeast{h.Handler.WithGroup(name), h.min}
}

// loaded is a build's model and SAEs, loaded once per worker process.
type loaded struct {
	spec Spec
	opts dashboard.Options
}

type workers struct {
	d     Deps
	mu    sync.Mutex
	cache map[string]*loaded // by build hash
}

// build loads the spec of build hash and its model and SAEs (once per
// process), and checks the files against the plan.
func (w *workers) build(ctx context.Context, hash string) (*loaded, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if l := w.cache[hash]; l != nil {
		return l, nil
	}
	var raw []byte
	err := w.d.Pool.QueryRow(ctx, `SELECT spec FROM dashboard_builds WHERE hash = $1`, hash).Scan(&raw)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, river.JobCancel(fmt.Errorf("build %.16s is not in the database", hash))
	}
	if err != nil {
		return nil, err
	}
	var spec Spec
	if err := json.Unmarshal(raw, &spec); err != nil {
		return nil, river.JobCancel(fmt.Errorf("build %.16s: spec: %w", hash, err))
	}
	// A model directory that cannot be loaded here will not load on a
	// retry either: cancel rather than retry.
	model, err := transformer.Load(spec.ModelDir)
	if err != nil {
		return nil, river.JobCancel(fmt.Errorf("build %.16s: %w", hash, err))
	}
	tok, err := tokenizer.Load(spec.ModelDir)
	if err != nil {
		return nil, river.JobCancel(fmt.Errorf("build %.16s: %w", hash, err))
	}
	o := dashboard.Options{ModelID: spec.ModelID, Model: model, Tokenizer: tok, ModelDir: spec.ModelDir,
		ContextSize: spec.ContextSize, MaxContexts: spec.MaxContexts, ChunkContexts: spec.ChunkContexts,
		BatchFeatures: spec.BatchFeatures, Dataset: spec.Dataset, Writer: w.d.Writer,
		WorkDir: w.d.WorkDir, Log: w.d.Log}
	for _, s := range spec.Sources {
		m, err := sae.Load(s.Dir)
		if err != nil {
			return nil, river.JobCancel(fmt.Errorf("build %.16s: source %s: %w", hash, s.ID, err))
		}
		o.Sources = append(o.Sources, dashboard.Source{ID: s.ID, SetName: s.SetName, SAE: m})
	}
	ih, err := dashboard.InputsHash(o)
	if err != nil {
		return nil, river.JobCancel(fmt.Errorf("build %.16s: %w", hash, err))
	}
	if ih != spec.Plan.InputsHash {
		return nil, river.JobCancel(fmt.Errorf("build %.16s: the model or SAE files in %s differ on this worker from those the build was planned with", hash, spec.ModelDir))
	}
	l := &loaded{spec: spec, opts: o}
	w.cache[hash] = l
	return l, nil
}

func (w *workers) status(ctx context.Context, model, source string, st *features.BuildStatus) {
	if w.d.Status == nil {
		return
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := w.d.Status(sctx, model, source, st); err != nil {
		w.d.Log.Warn("build status", "source", source, "err", err)
	}
}

type shardWorker struct {
	river.WorkerDefaults[ShardArgs]
	w       *workers
	timeout time.Duration
}

// Timeout bounds a shard job.
func (sw *shardWorker) Timeout(*river.Job[ShardArgs]) time.Duration { return sw.timeout }

// Work computes one shard and stores its codes.
func (sw *shardWorker) Work(ctx context.Context, job *river.Job[ShardArgs]) error {
	w, a := sw.w, job.Args
	l, err := w.build(ctx, a.Hash)
	if err != nil {
		return err
	}
	var data []byte
	var done bool
	err = w.d.Pool.QueryRow(ctx, `SELECT contexts, done_at IS NOT NULL FROM dashboard_build_shards WHERE hash = $1 AND shard = $2`,
		a.Hash, a.Shard).Scan(&data, &done)
	if errors.Is(err, pgx.ErrNoRows) {
		return river.JobCancel(fmt.Errorf("build %.16s has no shard %d", a.Hash, a.Shard))
	}
	if err != nil {
		return err
	}
	if done {
		return nil // a rescued duplicate of a shard that finished
	}
	t := time.Now()
	part, err := dashboard.ComputeShard(ctx, l.opts, l.spec.Plan, a.Shard, data)
	if err != nil {
		return err
	}
	took := time.Since(t)
	tx, err := w.d.Pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	// The build row's lock orders the shards' commits, so exactly one sees
	// the last shard done and enqueues the merges.
	var mergesEnqueued bool
	if err := tx.QueryRow(ctx, `SELECT merges_enqueued FROM dashboard_builds WHERE hash = $1 FOR UPDATE`, a.Hash).Scan(&mergesEnqueued); err != nil {
		return err
	}
	if err := tx.QueryRow(ctx, `SELECT done_at IS NOT NULL FROM dashboard_build_shards WHERE hash = $1 AND shard = $2`,
		a.Hash, a.Shard).Scan(&done); err != nil {
		return err
	}
	if done {
		return nil // a duplicate finished first
	}
	if _, err := tx.Exec(ctx, `DELETE FROM dashboard_build_codes WHERE hash = $1 AND shard = $2`, a.Hash, a.Shard); err != nil {
		return err
	}
	for si, s := range l.spec.Sources {
		per := make([][]byte, len(part.Codes))
		for c := range part.Codes {
			per[c] = part.Codes[c][si]
		}
		if _, err := tx.Exec(ctx, `INSERT INTO dashboard_build_codes (hash, source_id, shard, codes) VALUES ($1, $2, $3, $4)`,
			a.Hash, s.ID, a.Shard, per); err != nil {
			return err
		}
	}
	if _, err := tx.Exec(ctx, `UPDATE dashboard_build_shards SET done_at = now(), worker = $3, tokens = $4, model_ms = $5, codes_bytes = $6
		WHERE hash = $1 AND shard = $2`, a.Hash, a.Shard, w.d.ID, part.Tokens, took.Milliseconds(), part.Bytes()); err != nil {
		return err
	}
	var left, ctxDone int
	if err := tx.QueryRow(ctx, `SELECT count(*) FILTER (WHERE done_at IS NULL), coalesce(sum(n_contexts) FILTER (WHERE done_at IS NOT NULL), 0)
		FROM dashboard_build_shards WHERE hash = $1`, a.Hash).Scan(&left, &ctxDone); err != nil {
		return err
	}
	if left == 0 && !mergesEnqueued {
		var params []river.InsertManyParams
		for _, s := range l.spec.Sources {
			params = append(params, river.InsertManyParams{Args: MergeArgs{Hash: a.Hash, Source: s.ID}})
		}
		if _, err := river.ClientFromContext[pgx.Tx](ctx).InsertManyTx(ctx, tx, params); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE dashboard_builds SET merges_enqueued = true WHERE hash = $1`, a.Hash); err != nil {
			return err
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return err
	}
	w.d.Log.Info("shard done", "build", a.Hash[:16], "shard", a.Shard, "of", l.spec.Plan.Shards(), "tokens", part.Tokens,
		"took", took.Round(time.Millisecond), "forward", part.Forward.Round(time.Millisecond),
		"encode", part.Encode.Round(time.Millisecond), "codes_bytes", part.Bytes(), "shards_left", left)
	for _, s := range l.opts.Sources {
		w.status(ctx, l.spec.ModelID, s.ID, &features.BuildStatus{State: features.BuildRunning, Phase: features.BuildPhaseEncode,
			FeaturesTotal: s.SAE.Cfg.DSAE, ContextsDone: ctxDone, ContextsTotal: l.spec.Plan.Contexts, UpdatedAt: time.Now()})
	}
	return nil
}

type mergeWorker struct {
	river.WorkerDefaults[MergeArgs]
	w       *workers
	timeout time.Duration
}

// Timeout bounds a merge job.
func (mw *mergeWorker) Timeout(*river.Job[MergeArgs]) time.Duration { return mw.timeout }

// Work writes one source's dashboards from the stored codes.
func (mw *mergeWorker) Work(ctx context.Context, job *river.Job[MergeArgs]) error {
	w, a := mw.w, job.Args
	l, err := w.build(ctx, a.Hash)
	if err != nil {
		return err
	}
	o := l.opts
	o.Status = func(source string, st *features.BuildStatus) { w.status(ctx, l.spec.ModelID, source, st) }
	t := time.Now()
	res, mt, err := dashboard.Merge(ctx, o, l.spec.Plan, a.Source, partials{pool: w.d.Pool, hash: a.Hash})
	if err != nil {
		return err
	}
	took := time.Since(t)
	tx, err := w.d.Pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `INSERT INTO dashboard_build_merges (hash, source_id, worker, fetch_ms, total_ms, codes_bytes)
		VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (hash, source_id) DO NOTHING`,
		a.Hash, a.Source, w.d.ID, mt.Fetch.Milliseconds(), took.Milliseconds(), mt.Bytes); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `DELETE FROM dashboard_build_codes WHERE hash = $1 AND source_id = $2`, a.Hash, a.Source); err != nil {
		return err
	}
	// Once every source is merged the contexts are not needed either.
	if _, err := tx.Exec(ctx, `UPDATE dashboard_build_shards SET contexts = NULL WHERE hash = $1
		AND (SELECT count(*) FROM dashboard_build_merges WHERE hash = $1) = (SELECT jsonb_array_length(spec->'sources') FROM dashboard_builds WHERE hash = $1)`,
		a.Hash); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return err
	}
	w.d.Log.Info("merge done", "build", a.Hash[:16], "source", a.Source, "features", res.Features, "up_to_date", res.UpToDate,
		"took", took.Round(time.Millisecond), "fetch", mt.Fetch.Round(time.Millisecond), "codes_bytes", mt.Bytes,
		"pass1", res.Timing.Pass1.Round(time.Millisecond), "pass2", res.Timing.Pass2.Round(time.Millisecond),
		"write", res.Timing.Write.Round(time.Millisecond))
	return nil
}

// partials reads a build's stored contexts and codes.
type partials struct {
	pool *pgxpool.Pool
	hash string
}

func (p partials) Contexts(ctx context.Context, shard int) ([]byte, error) {
	var data []byte
	err := p.pool.QueryRow(ctx, `SELECT contexts FROM dashboard_build_shards WHERE hash = $1 AND shard = $2`, p.hash, shard).Scan(&data)
	if err == nil && data == nil {
		err = errors.New("the contexts were dropped (every source was merged)")
	}
	return data, err
}

func (p partials) Codes(ctx context.Context, source string, shard int) ([][]byte, error) {
	var codes [][]byte
	err := p.pool.QueryRow(ctx, `SELECT codes FROM dashboard_build_codes WHERE hash = $1 AND source_id = $2 AND shard = $3`,
		p.hash, source, shard).Scan(&codes)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("no codes stored for source %s, shard %d", source, shard)
	}
	return codes, err
}
