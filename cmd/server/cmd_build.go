package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cheggaaa/pb/v3"
	"github.com/mattn/go-isatty"

	"saex/internal/compute/sae"
	"saex/internal/compute/tokenizer"
	"saex/internal/compute/transformer"
	"saex/internal/features"
	"saex/internal/features/dashboard"
	"saex/internal/inference"
	"saex/internal/jobs"
	"saex/internal/store"
)

func init() {
	register("build", "compute feature dashboards from a corpus: --model DIR --sae DIR [--sae DIR ...] --corpus FILE; resumable", runBuild)
}

// multiFlag collects a repeatable string flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

func runBuild(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "build")
	modelDir := fs.String("model", "", "Hugging Face model directory of a supported family (config.json, model.safetensors or its shards, tokenizer)")
	var saeDirs multiFlag
	fs.Var(&saeDirs, "sae", "SAE directory (SAELens or Gemma Scope); repeat for several SAEs of the model")
	corpus := fs.String("corpus", "", "corpus: JSONL with a \"text\" field, or plain text; gzip or not")
	contexts := fs.Int("contexts", 0, "use at most this many contexts (0: the whole corpus)")
	contextSize := fs.Int("context-size", dashboard.DefaultContextSize, "tokens per context, BOS included")
	modelID := fs.String("model-id", "", "model id in saex (default: the model directory's name, or its parent's when it is called \"model\")")
	setName := fs.String("set-name", "", "source set name; sources are {layer}-{set} (default: {res|mlp|att|...}-{architecture}, e.g. res-topk)")
	dataset := fs.String("dataset", "", "how the dashboards name their data (default: the corpus file's name)")
	chunk := fs.Int("chunk", dashboard.DefaultChunkContexts, "contexts per forward batch and spill file")
	batch := fs.Int("batch", dashboard.DefaultBatchFeatures, "features per database transaction and checkpoint")
	workDir := fs.String("work-dir", "", "where the resumable spill lives (default: <data-dir>/builds)")
	keep := fs.Bool("keep-spill", false, "keep the spill after a successful build")
	enqueue := fs.Bool("enqueue", false, "queue the build as jobs for `saex worker` processes instead of running it here")
	shardChunks := fs.Int("shard-chunks", dashboard.DefaultShardChunks, "with --enqueue: chunks (of --chunk contexts) per shard job")
	wait := fs.Bool("wait", false, "with --enqueue: show the queued build's progress until it is done")
	cfg := dbConfig{Migrate: true}
	addDBFlags(fs, env, &cfg)
	if err := fs.Parse(args); err != nil {
		return err
	}
	switch {
	case *modelDir == "":
		return errors.New("build: --model is required")
	case len(saeDirs) == 0:
		return errors.New("build: at least one --sae is required")
	case *corpus == "":
		return errors.New("build: --corpus is required")
	case fs.NArg() > 0:
		return fmt.Errorf("build: unexpected argument %q", fs.Arg(0))
	case *contexts < 0:
		return fmt.Errorf("build: --contexts %d: want 0 (all) or more", *contexts)
	case *shardChunks < 1:
		return fmt.Errorf("build: --shard-chunks %d: want 1 or more", *shardChunks)
	case (*wait || *shardChunks != dashboard.DefaultShardChunks) && !*enqueue:
		return errors.New("build: --wait and --shard-chunks go with --enqueue")
	}
	if _, err := os.Stat(*corpus); err != nil {
		return fmt.Errorf("build: corpus: %w", err)
	}
	id := *modelID
	if id == "" {
		id = defaultModelID(*modelDir)
	}
	if !features.ValidID(id) {
		return fmt.Errorf("build: model id %q: use letters, digits, '.', '_' and '-' (set --model-id)", id)
	}
	log := env.Logger()
	set, err := loadBuildSet(*modelDir, saeDirs, *setName)
	if err != nil {
		return err
	}
	if *dataset == "" {
		*dataset = filepath.Base(*corpus)
	}
	if *workDir == "" {
		*workDir = filepath.Join(cfg.DataDir, "builds")
	}
	db, cleanup, err := openDatabase(ctx, env, cfg)
	if err != nil {
		return err
	}
	defer cleanup()
	if err := dashboard.Register(ctx, db, dashboard.Registration{ModelID: id, Model: set.model, Sources: set.sources,
		NumPrompts: *contexts, ContextSize: *contextSize, Dataset: *dataset}); err != nil {
		return fmt.Errorf("build: register: %w", err)
	}
	opts := dashboard.Options{
		ModelID: id, Model: set.model, Tokenizer: set.tok, ModelDir: *modelDir, Sources: set.sources,
		Corpus: *corpus, ContextSize: *contextSize, MaxContexts: *contexts, ChunkContexts: *chunk,
		BatchFeatures: *batch, WorkDir: *workDir, KeepSpill: *keep, Writer: db, Log: log, Dataset: *dataset,
		Status: func(source string, st *features.BuildStatus) {
			if err := db.SetBuildStatus(ctx, id, source, st); err != nil && ctx.Err() == nil {
				log.Warn("build status", "source", source, "err", err)
			}
		},
	}
	if *enqueue {
		return enqueueBuild(ctx, env, db, opts, saeDirs, *shardChunks, *wait)
	}
	show := newBuildProgress(env.Stderr, log)
	opts.Progress = show.update
	res, err := dashboard.Build(ctx, opts)
	show.finish()
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("build interrupted; run the same command again to resume: %w", err)
		}
		return err
	}
	logBuildResult(log, id, res)
	if !res.UpToDate {
		// Record how many contexts the dashboards came from, now it is known.
		if err := dashboard.Register(ctx, db, dashboard.Registration{ModelID: id, Model: set.model, Sources: set.sources,
			NumPrompts: res.Contexts, ContextSize: *contextSize, Dataset: *dataset}); err != nil {
			return fmt.Errorf("build: register: %w", err)
		}
	}
	return nil
}

// enqueueBuild plans the build, stores it and queues its jobs; with wait
// it shows the progress the workers record until the build is done.
func enqueueBuild(ctx context.Context, env *Env, db *store.DB, o dashboard.Options, saeDirs []string, shardChunks int, wait bool) error {
	log := env.Logger()
	prep, err := dashboard.Prepare(ctx, o, shardChunks)
	if err != nil {
		return err
	}
	defer prep.Close()
	if prep.UpToDate {
		log.Info("dashboards already built", "model", o.ModelID, "hash", prep.Plan.Hash[:16])
		return nil
	}
	spec := jobs.Spec{ModelID: o.ModelID, Corpus: o.Corpus, Dataset: o.Dataset, ContextSize: o.ContextSize,
		MaxContexts: o.MaxContexts, ChunkContexts: o.ChunkContexts, BatchFeatures: o.BatchFeatures}
	// Workers find the files at the same absolute paths (the same image).
	if spec.ModelDir, err = filepath.Abs(o.ModelDir); err != nil {
		return err
	}
	for i, s := range o.Sources {
		dir, err := filepath.Abs(saeDirs[i])
		if err != nil {
			return err
		}
		spec.Sources = append(spec.Sources, jobs.SourceSpec{ID: s.ID, SetName: s.SetName, Dir: dir})
	}
	if err := dashboard.Register(ctx, db, dashboard.Registration{ModelID: o.ModelID, Model: o.Model, Sources: o.Sources,
		NumPrompts: prep.Plan.Contexts, ContextSize: o.ContextSize, Dataset: o.Dataset}); err != nil {
		return fmt.Errorf("build: register: %w", err)
	}
	// Pending first: the workers' progress, once they start, overwrites it.
	for _, s := range o.Sources {
		o.Status(s.ID, &features.BuildStatus{State: features.BuildPending, FeaturesTotal: s.SAE.Cfg.DSAE,
			ContextsTotal: prep.Plan.Contexts, UpdatedAt: time.Now()})
	}
	todo, err := jobs.Enqueue(ctx, db.Pool, spec, prep)
	if err != nil {
		return err
	}
	log.Info("build enqueued; `saex worker` processes run it", "model", o.ModelID, "hash", prep.Plan.Hash[:16],
		"contexts", prep.Plan.Contexts, "shards", prep.Plan.Shards(), "shards_to_run", todo, "sources", len(o.Sources))
	if !wait {
		return nil
	}
	show := newBuildProgress(env.Stderr, log)
	defer show.finish()
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for {
		p, err := jobs.BuildProgress(ctx, db.Pool, prep.Plan.Hash)
		if err != nil {
			return err
		}
		if p.Failed != "" {
			return fmt.Errorf("build: a job gave up: %s", p.Failed)
		}
		if p.ShardsDone < p.Shards {
			show.update(dashboard.Progress{Phase: "shards", ContextsDone: p.ContextsDone, ContextsTotal: p.Contexts})
		} else {
			// merge: ContextsDone counts merged sources (buildProgress.update)
			show.update(dashboard.Progress{Phase: "merge", ContextsDone: p.SourcesMerged, ContextsTotal: p.Sources})
		}
		if p.SourcesMerged == p.Sources {
			show.finish()
			log.Info("dashboards built by the workers", "model", o.ModelID, "contexts", p.Contexts, "shards", p.Shards, "sources", p.Sources)
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("stopped waiting; the workers carry on: %w", ctx.Err())
		case <-tick.C:
		}
	}
}

// defaultModelID names a model after its directory (its parent's when the
// directory is just "model", as in demo/demo-gpt2-4l/model).
func defaultModelID(dir string) string {
	abs, err := filepath.Abs(dir)
	if err != nil {
		abs = dir
	}
	base := filepath.Base(abs)
	if base == "model" {
		base = filepath.Base(filepath.Dir(abs))
	}
	return base
}

// buildSet is a loaded model with the SAEs to build.
type buildSet struct {
	model   *transformer.Model
	tok     *tokenizer.Tokenizer
	sources []dashboard.Source
}

// hookFamily is Neuronpedia's source-set prefix for a hook: res, mlp, att.
func hookFamily(hook string) string {
	switch {
	case strings.Contains(hook, "resid"), strings.HasSuffix(hook, "hook_embed"):
		return "res"
	case strings.Contains(hook, "mlp"):
		return "mlp"
	case strings.Contains(hook, "attn"):
		return "att"
	}
	return "sae"
}

// loadBuildSet loads the model, its tokenizer and the SAEs, and names the
// sources {layer}-{set} (Neuronpedia's grammar). setName "" derives the set
// from the first SAE: {res|mlp|att}-{architecture}.
func loadBuildSet(modelDir string, saeDirs []string, setName string) (*buildSet, error) {
	m, err := transformer.Load(modelDir)
	if err != nil {
		return nil, err
	}
	tok, err := tokenizer.Load(modelDir)
	if err != nil {
		return nil, err
	}
	set := &buildSet{model: m, tok: tok}
	seen := map[string]string{}
	for _, dir := range saeDirs {
		s, err := sae.Load(dir)
		if err != nil {
			return nil, err
		}
		if _, err := inference.CheckSAEHook(m, s); err != nil {
			return nil, fmt.Errorf("SAE %s: %w", dir, err)
		}
		name := setName
		if name == "" {
			name = hookFamily(s.Cfg.HookName) + "-" + s.Cfg.Architecture
		}
		layer := "x"
		if s.Cfg.HookLayer >= 0 {
			layer = strconv.Itoa(s.Cfg.HookLayer)
		}
		id := layer + "-" + name
		if prev, dup := seen[id]; dup {
			return nil, fmt.Errorf("SAEs %s and %s would both be source %s: build them separately with different --set-name", prev, dir, id)
		}
		if err := features.CheckSourceID(id); err != nil || !features.ValidID(name) {
			return nil, fmt.Errorf("SAE %s: source id %q is not valid (set --set-name): %v", dir, id, features.ErrorMessage(err))
		}
		seen[id] = dir
		set.sources = append(set.sources, dashboard.Source{ID: id, SetName: name, SAE: s})
	}
	return set, nil
}

// logBuildResult logs throughput and where the time went.
func logBuildResult(log *slog.Logger, model string, res *dashboard.Result) {
	t := res.Timing
	if res.UpToDate {
		log.Info("dashboards already built", "model", model, "hash", res.Hash[:16])
		return
	}
	tps := 0.0
	if t.Pass1 > 0 {
		tps = float64(res.Tokens) / t.Pass1.Seconds()
	}
	// Bookkeeping runs beside the model on a second goroutine: report its
	// share of pass 1's work, and throughput per CPU-second, which other
	// processes on the machine do not distort as much as wall time.
	book, perCPU := 0.0, 0.0
	if w := t.Forward + t.Encode + t.Bookkeeping; w > 0 {
		book = t.Bookkeeping.Seconds() / w.Seconds()
	}
	if t.Pass1CPU > 0 {
		perCPU = float64(res.Tokens) / t.Pass1CPU.Seconds()
	}
	log.Info("dashboards built", "model", model, "contexts", res.Contexts, "tokens", res.Tokens, "features", res.Features,
		"tokens_per_s", int(tps), "pass1", t.Pass1.Round(time.Millisecond), "forward", t.Forward.Round(time.Millisecond),
		"encode", t.Encode.Round(time.Millisecond), "pass1_bookkeeping", fmt.Sprintf("%.1f%%", 100*book), "tokens_per_cpu_s", int(perCPU),
		"pass2", t.Pass2.Round(time.Millisecond), "logits_neighbours", t.LogitsNeighbours.Round(time.Millisecond),
		"write", t.Write.Round(time.Millisecond), "total", t.Total.Round(time.Millisecond),
		"chunks_from_spill", t.ChunksFromSpill, "batches_already_stored", t.BatchesAlreadyStored)
}

// buildProgress shows the build on a terminal (a bar with contexts/s,
// tokens/s and ETA) or as a log line every 10 s.
type buildProgress struct {
	mu      sync.Mutex
	bar     *pb.ProgressBar
	log     *slog.Logger
	start   time.Time
	phase   string
	phaseT  time.Time
	lastLog time.Time
}

func newBuildProgress(w io.Writer, log *slog.Logger) *buildProgress {
	p := &buildProgress{log: log, start: time.Now(), phaseT: time.Now()}
	if f, ok := w.(*os.File); ok && isatty.IsTerminal(f.Fd()) {
		p.bar = pb.New(0).SetWriter(w).SetRefreshRate(200 * time.Millisecond)
		p.bar.SetTemplateString(`{{string . "phase"}} {{bar . }} {{percent . }} {{string . "rate"}} {{rtime . "ETA %s"}}`)
		p.bar.Start()
	}
	return p
}

func (p *buildProgress) update(pr dashboard.Progress) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if pr.Phase != p.phase {
		p.phase, p.phaseT = pr.Phase, time.Now()
		if p.bar == nil {
			p.log.Info("build phase", "phase", pr.Phase)
		}
	}
	secs := max(time.Since(p.phaseT).Seconds(), 1e-3)
	var cur, total int64
	var rate string
	switch pr.Phase {
	case "write":
		cur, total = int64(pr.FeaturesDone), int64(pr.FeaturesTotal)
		rate = fmt.Sprintf("%d/%d features", pr.FeaturesDone, pr.FeaturesTotal)
	case "merge":
		cur, total = int64(pr.ContextsDone), int64(pr.ContextsTotal)
		rate = fmt.Sprintf("%d/%d sources merged", pr.ContextsDone, pr.ContextsTotal)
	default:
		cur, total = int64(pr.ContextsDone), int64(pr.ContextsTotal)
		rate = fmt.Sprintf("%d/%d contexts, %.0f contexts/s, %.0f tokens/s", pr.ContextsDone, pr.ContextsTotal,
			float64(pr.ContextsDone)/secs, float64(pr.TokensDone)/secs)
	}
	if p.bar != nil {
		if p.bar.Total() != total {
			p.bar.SetTotal(total)
		}
		p.bar.SetCurrent(cur)
		p.bar.Set("phase", pr.Phase)
		p.bar.Set("rate", rate)
		return
	}
	if time.Since(p.lastLog) >= 10*time.Second {
		p.lastLog = time.Now()
		eta := "unknown"
		if cur > 0 && total > 0 {
			eta = time.Duration(float64(time.Since(p.phaseT)) * float64(total-cur) / float64(cur)).Round(time.Second).String()
		}
		p.log.Info("building", "phase", pr.Phase, "progress", rate, "eta", eta)
	}
}

func (p *buildProgress) finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.bar != nil {
		p.bar.Finish()
		p.bar = nil
	}
}
