// Package dashboard computes every feature's dashboard from a text corpus,
// as SAEDashboard does for Neuronpedia but in-process on the CPU: it runs
// a GPT-2 model and its SAEs over the corpus once and keeps, per feature,
// the top activating contexts, examples drawn from ten activation
// intervals, the activation histogram and density, the logit effects of
// the decoder direction and its nearest neighbours, then writes them
// through features.FeatureWriter in checkpointed batches.
//
// The build runs in two passes over the corpus's sparse codes. Pass 1 runs
// the model and the SAEs chunk by chunk, appends each chunk's codes to a
// spill file on disk, and keeps per-feature counts, ranges and top
// contexts. Pass 2 streams the spill (no model) to fill what needs the
// final range: histograms, interval counts, reservoir-sampled interval
// examples and the per-token values of every kept example. Memory is
// bounded by features times kept examples, not by corpus size; the spill
// and the database checkpoints make an interrupted build resumable with
// identical results.
package dashboard

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"saex/internal/compute/sae"
	"saex/internal/compute/tokenizer"
	"saex/internal/compute/transformer"
	"saex/internal/features"
	"saex/internal/inference"
)

// Defaults of Options.
const (
	DefaultContextSize   = 128
	DefaultChunkContexts = 16 // 2048 tokens: large enough for the kernel, small enough for a modest peak memory
	DefaultBatchFeatures = 256
	// TopExamples is the size of the top-activations group.
	TopExamples = 20
	// CreatorID marks rows written by the builder.
	CreatorID = "saex-build"
	// formatVersion changes whenever the build's output for the same
	// inputs would change, so old spills and checkpoints are not reused.
	formatVersion = "saex-dashboard-build/2"
)

// Source is one SAE to build dashboards for.
type Source struct {
	ID      string // source id, e.g. "1-res-topk"
	SetName string // source set, e.g. "res-topk"
	SAE     *sae.SAE
}

// Options configure a build.
type Options struct {
	ModelID   string
	Model     *transformer.Model
	Tokenizer *tokenizer.Tokenizer
	// ModelDir is the model's directory: its files are hashed to recognise
	// a spill or checkpoint of the same build.
	ModelDir string
	Sources  []Source
	// Corpus is a JSONL (text field) or plain-text file, optionally gzipped.
	Corpus string
	// ContextSize is tokens per context, BOS included (default 128).
	ContextSize int
	// MaxContexts caps the contexts used (0: the whole corpus).
	MaxContexts int
	// ChunkContexts is contexts per forward batch and spill file (default 64).
	ChunkContexts int
	// BatchFeatures is features per database transaction and checkpoint (default 256).
	BatchFeatures int
	// WorkDir holds spill directories (one per model and configuration).
	WorkDir string
	// KeepSpill keeps the spill after a successful build.
	KeepSpill bool
	Writer    features.FeatureWriter
	// Status, when set, receives each source's progress (serve stores it
	// with CatalogService.SetBuildStatus). Calls never overlap.
	Status func(sourceID string, st *features.BuildStatus)
	// Progress, when set, receives overall progress (the CLI's bar).
	Progress func(Progress)
	Log      *slog.Logger
	// Dataset names the corpus in DataSource of the examples ("" for none).
	Dataset string

	// stopAfterChunks, for tests, fails pass 1 after this many newly
	// computed chunks, as an interruption would.
	stopAfterChunks int
	// stopAfterBatches, for tests, fails after this many written batches.
	stopAfterBatches int
}

// Progress is the build's overall progress.
type Progress struct {
	Phase         string // tokenize, encode, stats, write, done
	ContextsDone  int
	ContextsTotal int
	TokensDone    int64
	FeaturesDone  int
	FeaturesTotal int
}

// Timing splits a build's wall time.
type Timing struct {
	Hash, Tokenize  time.Duration
	Pass1           time.Duration // wall time of pass 1
	Forward, Encode time.Duration // inside pass 1: model forward, SAE encodes
	// Bookkeeping is pass 1's work outside Forward and Encode (gathering
	// inputs, CSR conversion, spill writes, accumulators), summed over the
	// two goroutines that do it.
	Bookkeeping time.Duration
	// Pass1CPU is the process CPU time (all threads) during pass 1, which
	// stays meaningful when other processes share the cores.
	Pass1CPU             time.Duration
	Pass2                time.Duration
	LogitsNeighbours     time.Duration
	Write                time.Duration
	Total                time.Duration
	ChunksFromSpill      int
	ChunksComputed       int
	BatchesAlreadyStored int
}

// Result summarises a build.
type Result struct {
	Hash     string
	Contexts int
	Tokens   int64 // token positions run through the model
	Counted  int64 // positions counted in statistics (BOS excluded)
	Features int   // features written by this run
	UpToDate bool  // everything was already written
	Timing   Timing
	SpillDir string
}

// ErrLocked is returned when another build of the same configuration holds
// the spill directory.
var ErrLocked = errors.New("another build of the same dashboards is running")

type builder struct {
	o   Options
	log *slog.Logger
	bos int32 // BOS/separator id (-1: none)
	// special marks the ids dashboards skip as they skip BOS: every special
	// token of the tokenizer (Gemma's <bos>, Llama's <|begin_of_text|>,
	// chat markers), indexed by token id.
	special []bool
	prepend bool
	hooks   []string
	hookOf  []transformer.Hook
	dir     string
	hash    string
	ctxs    *contextsFile
	p1      []*pass1
	p2      []*pass2
	counted int64
	tokens  int64
	display []string
	res     *Result
	prog    Progress
	lastRep time.Time
	// lastStatus throttles Status calls (database writes in serve).
	lastStatus time.Time
	// only, when >= 0, restricts the passes and the writes to one source
	// (a distributed build's merge); -1: every source.
	only int
	// fromSpillOnly makes a missing spill chunk an error instead of a
	// reason to run the model (a merge has the codes already).
	fromSpillOnly bool
}

// on reports whether source si takes part in this run.
func (b *builder) on(si int) bool { return b.only < 0 || b.only == si }

// Build computes the dashboards of every feature of o.Sources and writes
// them through o.Writer.
func Build(ctx context.Context, o Options) (*Result, error) {
	start := time.Now()
	if o.Corpus == "" {
		return nil, errors.New("build: no corpus given")
	}
	b, err := newBuilder(o)
	if err != nil {
		return nil, err
	}
	res := b.res
	t := time.Now()
	if b.hash, err = b.configHash(); err != nil {
		return nil, err
	}
	res.Hash = b.hash
	res.Timing.Hash = time.Since(t)

	todo, err := b.pendingBatches(ctx)
	if err != nil {
		return nil, err
	}
	if len(todo) == 0 {
		res.UpToDate = true
		for _, s := range o.Sources {
			b.status(s.ID, features.BuildDone, s.SAE.Cfg.DSAE, s.SAE.Cfg.DSAE, 0, 0, "")
		}
		b.progress(Progress{Phase: "done"}, true)
		res.Timing.Total = time.Since(start)
		return res, nil
	}

	b.dir = filepath.Join(o.WorkDir, o.ModelID, b.hash[:16])
	res.SpillDir = b.dir
	unlock, err := b.lockDir()
	if err != nil {
		return nil, err
	}
	defer unlock()

	if err := b.run(ctx, todo); err != nil {
		b.failed(ctx, err)
		return res, err
	}
	b.refreshRanks(ctx)
	if b.ctxs != nil {
		b.ctxs.Close()
		b.ctxs = nil
	}
	if !o.KeepSpill {
		if err := os.RemoveAll(b.dir); err != nil {
			b.log.Warn("remove spill", "dir", b.dir, "err", err)
		}
	}
	res.Timing.Total = time.Since(start)
	b.progress(Progress{Phase: "done", ContextsDone: res.Contexts, ContextsTotal: res.Contexts, TokensDone: res.Tokens,
		FeaturesDone: b.prog.FeaturesTotal, FeaturesTotal: b.prog.FeaturesTotal}, true)
	return res, nil
}

func newBuilder(o Options) (*builder, error) {
	if o.Log == nil {
		o.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	switch {
	case o.Model == nil || o.Tokenizer == nil:
		return nil, errors.New("build: no model or tokenizer")
	case !features.ValidID(o.ModelID):
		return nil, fmt.Errorf("build: invalid model id %q", o.ModelID)
	case len(o.Sources) == 0:
		return nil, errors.New("build: no SAE given")
	case o.Writer == nil:
		return nil, errors.New("build: no writer")
	case o.WorkDir == "":
		return nil, errors.New("build: no work directory for the spill")
	case o.ModelDir == "":
		return nil, errors.New("build: the model directory is needed to identify the build")
	}
	if o.ContextSize == 0 {
		o.ContextSize = DefaultContextSize
	}
	if o.ChunkContexts <= 0 {
		o.ChunkContexts = DefaultChunkContexts
	}
	if o.BatchFeatures <= 0 {
		o.BatchFeatures = DefaultBatchFeatures
	}
	if o.MaxContexts < 0 {
		return nil, fmt.Errorf("build: --contexts %d: want 0 (all) or more", o.MaxContexts)
	}
	cfg := o.Model.Cfg
	if o.ContextSize < 2 || o.ContextSize > cfg.NPositions || o.ContextSize > 65535 {
		return nil, fmt.Errorf("build: context size %d: want 2..%d (the model's n_positions)", o.ContextSize, min(cfg.NPositions, 65535))
	}
	if tv := o.Tokenizer.VocabSize(); tv > cfg.VocabSize {
		return nil, fmt.Errorf("build: the tokenizer has %d tokens but the model's vocabulary is %d", tv, cfg.VocabSize)
	}
	b := &builder{o: o, log: o.Log, res: &Result{}, only: -1}
	b.bos = int32(cfg.BOSTokenID)
	if b.bos < 0 {
		b.bos = int32(cfg.EOSTokenID)
	}
	b.special = make([]bool, cfg.VocabSize)
	for _, id := range o.Tokenizer.SpecialIDs() {
		if id >= 0 && id < len(b.special) {
			b.special[id] = true
		}
	}
	if b.bos >= 0 && int(b.bos) < len(b.special) {
		b.special[b.bos] = true
	}
	seen := map[string]bool{}
	hookSeen := map[string]bool{}
	for i, s := range o.Sources {
		if !features.ValidSourceID(s.ID) || seen[s.ID] {
			return nil, fmt.Errorf("build: source %d: invalid or repeated id %q", i, s.ID)
		}
		seen[s.ID] = true
		if s.SAE == nil || s.SAE.Dir == "" {
			return nil, fmt.Errorf("build: source %s: the SAE must be loaded from a directory", s.ID)
		}
		h, err := inference.CheckSAEHook(o.Model, s.SAE)
		if err != nil {
			return nil, fmt.Errorf("build: source %s (%s): %w", s.ID, s.SAE.Dir, err)
		}
		b.hookOf = append(b.hookOf, h)
		if name := h.String(); !hookSeen[name] {
			hookSeen[name] = true
			b.hooks = append(b.hooks, name)
		}
		if i == 0 {
			b.prepend = s.SAE.Cfg.PrependBOS
		} else if s.SAE.Cfg.PrependBOS != b.prepend {
			return nil, fmt.Errorf("build: the SAEs disagree on prepend_bos (%s: %v, %s: %v); build them separately",
				o.Sources[0].ID, b.prepend, s.ID, s.SAE.Cfg.PrependBOS)
		}
	}
	if b.prepend && b.bos < 0 {
		return nil, errors.New("build: the SAEs prepend BOS but the model's config.json has no bos_token_id or eos_token_id")
	}
	b.display = o.Tokenizer.Display(iota32(cfg.VocabSize))
	return b, nil
}

func iota32(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}

// configHash identifies the build's output: the builder version, the
// model's and SAEs' files, the corpus and every option that changes the
// result.
func (b *builder) configHash() (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "%s\nmodel %s\ncontext %d\nmax %d\nchunk %d\nbatch %d\ndataset %q\n", formatVersion, b.o.ModelID,
		b.o.ContextSize, b.o.MaxContexts, b.o.ChunkContexts, b.o.BatchFeatures, b.o.Dataset)
	if err := b.hashInputs(h); err != nil {
		return "", err
	}
	if err := hashFile(h, b.o.Corpus); err != nil {
		return "", fmt.Errorf("build: corpus: %w", err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// inputsHash identifies the model's and SAEs' files alone: a worker of a
// distributed build checks that its copies are the ones the build was
// planned with.
func (b *builder) inputsHash() (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "%s\nmodel %s\n", formatVersion, b.o.ModelID)
	if err := b.hashInputs(h); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func hashFile(h io.Writer, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	fmt.Fprintf(h, "file %s\n", filepath.Base(path))
	_, err = io.Copy(h, f)
	return err
}

// hashInputs hashes the model's and the SAEs' files into h.
func (b *builder) hashInputs(h io.Writer) error {
	modelFiles, _ := filepath.Glob(filepath.Join(b.o.ModelDir, "*.safetensors"))
	modelFiles = append([]string{filepath.Join(b.o.ModelDir, "config.json")}, modelFiles...)
	for _, name := range []string{"tokenizer.json", "vocab.json", "merges.txt"} {
		if p := filepath.Join(b.o.ModelDir, name); fileExists(p) {
			modelFiles = append(modelFiles, p)
		}
	}
	for _, p := range modelFiles {
		if err := hashFile(h, p); err != nil {
			return fmt.Errorf("build: hash model: %w", err)
		}
	}
	for _, s := range b.o.Sources {
		fmt.Fprintf(h, "source %s set %s\n", s.ID, s.SetName)
		files, _ := filepath.Glob(filepath.Join(s.SAE.Dir, "*.safetensors"))
		files = append(files, filepath.Join(s.SAE.Dir, "cfg.json"), filepath.Join(s.SAE.Dir, "params.npz"))
		for _, p := range files {
			if !fileExists(p) || filepath.Base(p) == "sparsity.safetensors" {
				continue
			}
			if err := hashFile(h, p); err != nil {
				return fmt.Errorf("build: hash SAE %s: %w", s.ID, err)
			}
		}
	}
	return nil
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}

// batchUnit is one checkpointed batch of one source.
type batchUnit struct {
	src         int
	first, last int // feature indices, inclusive
}

func (b *builder) checkpoint(u batchUnit) features.Checkpoint {
	return features.Checkpoint{
		Job:  "build:" + b.o.ModelID + "/" + b.o.Sources[u.src].ID,
		Unit: fmt.Sprintf("features-%d-%d", u.first, u.last),
		Hash: b.hash,
	}
}

// pendingBatches lists the batches without a checkpoint for this build.
func (b *builder) pendingBatches(ctx context.Context) ([]batchUnit, error) {
	var todo []batchUnit
	for si, s := range b.o.Sources {
		if !b.on(si) {
			continue
		}
		d := s.SAE.Cfg.DSAE
		for f0 := 0; f0 < d; f0 += b.o.BatchFeatures {
			u := batchUnit{src: si, first: f0, last: min(f0+b.o.BatchFeatures, d) - 1}
			done, err := b.o.Writer.Done(ctx, b.checkpoint(u))
			if err != nil {
				return nil, fmt.Errorf("build: check progress: %w", err)
			}
			if done {
				b.res.Timing.BatchesAlreadyStored++
			} else {
				todo = append(todo, u)
			}
		}
	}
	return todo, nil
}

// failed reports a run that stopped with err.
func (b *builder) failed(ctx context.Context, err error) {
	state, msg := features.BuildFailed, err.Error()
	if ctx.Err() != nil {
		state, msg = features.BuildPending, "interrupted; resumes on the next start"
	}
	b.statusAll(state, b.prog.FeaturesDone, b.prog.ContextsDone, b.prog.ContextsTotal, msg)
}

// lockDir creates the spill directory, removes spills of other
// configurations of the model, and takes an exclusive lock.
func (b *builder) lockDir() (func(), error) {
	parent := filepath.Dir(b.dir)
	if err := os.MkdirAll(b.dir, 0o755); err != nil {
		return nil, fmt.Errorf("build: spill directory: %w", err)
	}
	lf, err := os.OpenFile(filepath.Join(b.dir, "lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("build: spill lock: %w", err)
	}
	if err := syscall.Flock(int(lf.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		lf.Close()
		return nil, fmt.Errorf("build: %s: %w", b.dir, ErrLocked)
	}
	// A changed configuration starts over: drop other spills of this model
	// unless another build holds them.
	if entries, err := os.ReadDir(parent); err == nil {
		for _, e := range entries {
			if !e.IsDir() || e.Name() == filepath.Base(b.dir) {
				continue
			}
			other := filepath.Join(parent, e.Name())
			if ol, err := os.Open(filepath.Join(other, "lock")); err == nil {
				busy := syscall.Flock(int(ol.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) != nil
				if !busy {
					os.RemoveAll(other)
				}
				ol.Close()
			} else {
				os.RemoveAll(other)
			}
		}
	}
	return func() { lf.Close() }, nil
}

// manifest describes a spill directory (for people and for sanity checks).
type manifest struct {
	Hash        string   `json:"hash"`
	Model       string   `json:"model"`
	Sources     []string `json:"sources"`
	Corpus      string   `json:"corpus"`
	ContextSize int      `json:"contextSize"`
	Contexts    int      `json:"contexts"`
	Chunk       int      `json:"chunkContexts"`
}

func (b *builder) run(ctx context.Context, todo []batchUnit) error {
	o := b.o
	b.startProgress(todo, features.BuildPhaseTokenize)

	// Contexts: tokenized once per spill directory.
	t := time.Now()
	ctxPath := filepath.Join(b.dir, "contexts.bin")
	if !fileExists(ctxPath) {
		b.progress(Progress{Phase: "tokenize"}, true)
		if _, err := writeContexts(ctxPath, o.ContextSize, b.tokenize); err != nil {
			return fmt.Errorf("build: tokenize %s: %w", o.Corpus, err)
		}
	}
	cf, err := openContexts(ctxPath, o.ContextSize)
	if err != nil {
		return fmt.Errorf("build: %w", err)
	}
	b.ctxs = cf
	b.res.Contexts = cf.count
	b.res.Timing.Tokenize = time.Since(t)
	if cf.count == 0 {
		return fmt.Errorf("build: corpus %s gives no context (is it empty?)", o.Corpus)
	}
	m := manifest{Hash: b.hash, Model: o.ModelID, Corpus: o.Corpus, ContextSize: o.ContextSize, Contexts: cf.count, Chunk: o.ChunkContexts}
	for _, s := range o.Sources {
		m.Sources = append(m.Sources, s.ID)
	}
	if data, err := json.MarshalIndent(m, "", "  "); err == nil {
		os.WriteFile(filepath.Join(b.dir, "manifest.json"), data, 0o644)
	}
	b.prog.ContextsTotal = cf.count
	b.log.Info("dashboard build", "model", o.ModelID, "sources", len(o.Sources), "contexts", cf.count,
		"batches to write", len(todo), "spill", b.dir)
	return b.passes(ctx, todo)
}

// refreshRanks refreshes the rank marks of the sources this run wrote,
// when the writer keeps them: its writes made them stale, and the browser
// would otherwise rebuild them on the first deep page. A failure only
// leaves that lazy refresh to do the work, so it is logged, not returned.
func (b *builder) refreshRanks(ctx context.Context) {
	rr, ok := b.o.Writer.(features.RankRefresher)
	if !ok {
		return
	}
	for si, s := range b.o.Sources {
		if !b.on(si) {
			continue
		}
		t := time.Now()
		if err := rr.RefreshRankMarks(ctx, b.o.ModelID, s.ID); err != nil {
			b.log.Warn("refresh rank marks", "source", s.ID, "err", err)
			continue
		}
		b.log.Debug("refreshed rank marks", "source", s.ID, "took", time.Since(t).Round(time.Millisecond))
	}
}

// startProgress sets the overall progress of a run that writes todo.
func (b *builder) startProgress(todo []batchUnit, phase string) {
	total := 0
	for si, s := range b.o.Sources {
		if b.on(si) {
			total += s.SAE.Cfg.DSAE
		}
	}
	b.prog.FeaturesTotal = total
	b.prog.FeaturesDone = total
	for _, u := range todo {
		b.prog.FeaturesDone -= u.last - u.first + 1
	}
	b.prog.Phase = phase
	b.statusAll(features.BuildRunning, 0, 0, 0, "")
}

// statusAll reports the same progress for every source of the run.
func (b *builder) statusAll(state string, featDone, ctxDone, ctxTotal int, msg string) {
	for si, s := range b.o.Sources {
		if b.on(si) {
			b.status(s.ID, state, featDone, s.SAE.Cfg.DSAE, ctxDone, ctxTotal, msg)
		}
	}
}

// passes runs pass 1, pass 2 and the writes over the open contexts.
func (b *builder) passes(ctx context.Context, todo []batchUnit) error {
	t := time.Now()
	cpu := processCPU()
	if err := b.pass1(ctx); err != nil {
		return err
	}
	b.res.Timing.Pass1 = time.Since(t)
	b.res.Timing.Pass1CPU = processCPU() - cpu
	b.res.Tokens, b.res.Counted = b.tokens, b.counted

	t = time.Now()
	if err := b.pass2(ctx); err != nil {
		return err
	}
	b.res.Timing.Pass2 = time.Since(t)

	return b.write(ctx, todo)
}

// tokenize streams the corpus through the tokenizer and the packer.
func (b *builder) tokenize(emit func([]int32) error) error {
	cr, err := openCorpus(b.o.Corpus)
	if err != nil {
		return err
	}
	defer cr.Close()
	p := &packer{size: b.o.ContextSize, bos: -1, sep: b.bos, limit: b.o.MaxContexts, emit: emit}
	if b.prepend {
		p.bos = b.bos
	}
	for {
		text, cont, err := cr.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		ids, _ := b.o.Tokenizer.Encode(text)
		if err := p.document(ids, cont); err != nil {
			if errors.Is(err, errEnough) {
				return nil
			}
			return err
		}
	}
	return p.finish()
}

func (b *builder) chunkPath(c int) string {
	return filepath.Join(b.dir, fmt.Sprintf("chunk-%06d.bin", c))
}

// skipped reports whether dashboards leave token id out of every statistic
// and example: BOS and the tokenizer's other special tokens.
func (b *builder) skipped(id int32) bool {
	return id >= 0 && int(id) < len(b.special) && b.special[id]
}

func (b *builder) idxWidth() int {
	for _, s := range b.o.Sources {
		if s.SAE.Cfg.DSAE > 1<<16 {
			return 4
		}
	}
	return 2
}

// status reports one source's progress through o.Status.
func (b *builder) status(source, state string, featDone, featTotal, ctxDone, ctxTotal int, msg string) {
	if b.o.Status == nil {
		return
	}
	st := &features.BuildStatus{State: state, FeaturesDone: featDone, FeaturesTotal: featTotal,
		ContextsDone: ctxDone, ContextsTotal: ctxTotal, Error: msg, UpdatedAt: time.Now()}
	if state == features.BuildRunning {
		st.Phase = b.prog.Phase
	}
	b.o.Status(source, st)
}

// progress reports p through o.Progress; unless force, at most a few times
// a second. It reports whether it did (the caller may then update status).
func (b *builder) progress(p Progress, force bool) bool {
	now := time.Now()
	if !force && now.Sub(b.lastRep) < 250*time.Millisecond {
		return false
	}
	b.lastRep = now
	if b.o.Progress != nil {
		b.o.Progress(p)
	}
	return true
}

func itoa(i int) string { return strconv.Itoa(i) }

// processCPU is the process's user+system CPU time so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
