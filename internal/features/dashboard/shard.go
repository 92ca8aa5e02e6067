package dashboard

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"saex/internal/features"
)

// Distributed builds split Build across processes that share nothing but
// the database. Prepare tokenizes the corpus and fixes a Plan: the
// contexts cut into shards of whole chunks. ComputeShard runs the model
// and the SAEs over one shard's contexts, exactly as Build's pass 1 does
// chunk by chunk, and returns the sparse codes (the spill's sections) for
// the caller to store. Merge finishes one source from the stored codes of
// every shard: it streams them in corpus order through the same pass 1,
// pass 2 and writes as Build, under Build's hash, so its output is
// identical to a single-process build's whichever worker computed which
// shard and in whatever order (the interval examples' reservoirs see the
// contexts in corpus order, and their seeds come from the hash). The
// model runs once per context; only the merge reads the codes twice.

// Plan is a distributed build's layout and identity.
type Plan struct {
	// Hash is Build's configuration hash for the same options: the
	// checkpoints and the sampling seeds are those of Build.
	Hash string `json:"hash"`
	// InputsHash identifies the model's and SAEs' files alone; a worker
	// checks its copies against it (InputsHash).
	InputsHash    string `json:"inputsHash"`
	Contexts      int    `json:"contexts"`
	ChunkContexts int    `json:"chunkContexts"`
	ShardChunks   int    `json:"shardChunks"`
}

// Chunks is the number of chunks (forward batches) of the build.
func (p Plan) Chunks() int { return (p.Contexts + p.ChunkContexts - 1) / p.ChunkContexts }

// Shards is the number of shards.
func (p Plan) Shards() int { return (p.Chunks() + p.ShardChunks - 1) / p.ShardChunks }

// ShardChunkRange returns shard s's chunks [first, first+n).
func (p Plan) ShardChunkRange(s int) (first, n int) {
	first = s * p.ShardChunks
	return first, min(p.ShardChunks, p.Chunks()-first)
}

// ShardContextRange returns shard s's contexts [first, first+n).
func (p Plan) ShardContextRange(s int) (first, n int) {
	c0, nc := p.ShardChunkRange(s)
	first = c0 * p.ChunkContexts
	return first, min(nc*p.ChunkContexts, p.Contexts-first)
}

func (p Plan) check() error {
	if p.Hash == "" || p.Contexts <= 0 || p.ChunkContexts <= 0 || p.ShardChunks <= 0 {
		return fmt.Errorf("build plan: incomplete (%+v)", p)
	}
	return nil
}

// DefaultShardChunks is chunks per shard: 16 chunks of 16 contexts are
// about 33k tokens, a few seconds of the demo model per shard and minutes
// of a 2B model, small enough that a killed worker loses little.
const DefaultShardChunks = 16

// Prepared is a planned build whose contexts wait in a local file.
type Prepared struct {
	Plan Plan
	// UpToDate: every batch of the build is already written.
	UpToDate bool
	ctxs     *contextsFile
	dir      string
}

// Prepare computes a distributed build's plan for o (Build's options)
// and tokenizes the corpus under o.WorkDir. shardChunks <= 0 means
// DefaultShardChunks.
func Prepare(ctx context.Context, o Options, shardChunks int) (*Prepared, error) {
	if o.Corpus == "" {
		return nil, errors.New("build: no corpus given")
	}
	if shardChunks <= 0 {
		shardChunks = DefaultShardChunks
	}
	b, err := newBuilder(o)
	if err != nil {
		return nil, err
	}
	p := &Prepared{Plan: Plan{ChunkContexts: b.o.ChunkContexts, ShardChunks: shardChunks}}
	if p.Plan.Hash, err = b.configHash(); err != nil {
		return nil, err
	}
	b.hash = p.Plan.Hash
	if p.Plan.InputsHash, err = b.inputsHash(); err != nil {
		return nil, err
	}
	todo, err := b.pendingBatches(ctx)
	if err != nil {
		return nil, err
	}
	if len(todo) == 0 {
		p.UpToDate = true
		return p, nil
	}
	if err := os.MkdirAll(o.WorkDir, 0o755); err != nil {
		return nil, fmt.Errorf("build: work directory: %w", err)
	}
	if p.dir, err = os.MkdirTemp(o.WorkDir, "prepare-"); err != nil {
		return nil, fmt.Errorf("build: work directory: %w", err)
	}
	path := filepath.Join(p.dir, "contexts.bin")
	if _, err := writeContexts(path, b.o.ContextSize, b.tokenize); err != nil {
		p.Close()
		return nil, fmt.Errorf("build: tokenize %s: %w", o.Corpus, err)
	}
	if p.ctxs, err = openContexts(path, b.o.ContextSize); err != nil {
		p.Close()
		return nil, fmt.Errorf("build: %w", err)
	}
	if p.ctxs.count == 0 {
		p.Close()
		return nil, fmt.Errorf("build: corpus %s gives no context (is it empty?)", o.Corpus)
	}
	p.Plan.Contexts = p.ctxs.count
	return p, nil
}

// ShardContexts returns shard s's contexts in the encoding ComputeShard
// and the PartialReader take (EncodeContexts).
func (p *Prepared) ShardContexts(s int) ([]byte, error) {
	first, n := p.Plan.ShardContextRange(s)
	cs, err := p.ctxs.read(first, n)
	if err != nil {
		return nil, fmt.Errorf("build: %w", err)
	}
	return EncodeContexts(cs), nil
}

// Close removes the local contexts.
func (p *Prepared) Close() error {
	if p.ctxs != nil {
		p.ctxs.Close()
		p.ctxs = nil
	}
	if p.dir != "" {
		return os.RemoveAll(p.dir)
	}
	return nil
}

// EncodeContexts encodes contexts' token ids: per context a uint32 length
// and that many uint32 ids, little-endian.
func EncodeContexts(cs [][]int32) []byte {
	n := 0
	for _, c := range cs {
		n += 4 + 4*len(c)
	}
	out := make([]byte, 0, n)
	for _, c := range cs {
		out = binary.LittleEndian.AppendUint32(out, uint32(len(c)))
		for _, id := range c {
			out = binary.LittleEndian.AppendUint32(out, uint32(id))
		}
	}
	return out
}

// DecodeContexts decodes EncodeContexts's output, checking that each of
// the want contexts holds 1..size ids below vocab.
func DecodeContexts(data []byte, want, size, vocab int) ([][]int32, error) {
	var out [][]int32
	for p := 0; p < len(data); {
		if len(data)-p < 4 {
			return nil, fmt.Errorf("contexts: %d trailing bytes after context %d", len(data)-p, len(out))
		}
		l := int(binary.LittleEndian.Uint32(data[p:]))
		p += 4
		if l <= 0 || l > size {
			return nil, fmt.Errorf("contexts: context %d has length %d, want 1..%d", len(out), l, size)
		}
		if len(data)-p < 4*l {
			return nil, fmt.Errorf("contexts: context %d is truncated", len(out))
		}
		c := make([]int32, l)
		for i := range c {
			id := binary.LittleEndian.Uint32(data[p:])
			if int64(id) >= int64(vocab) {
				return nil, fmt.Errorf("contexts: context %d position %d: token id %d outside the vocabulary (%d)", len(out), i, id, vocab)
			}
			c[i] = int32(id)
			p += 4
		}
		out = append(out, c)
	}
	if len(out) != want {
		return nil, fmt.Errorf("contexts: %d stored, want %d", len(out), want)
	}
	return out, nil
}

// ShardPartial is one shard's sparse codes: Codes[c][si] is source si's
// codes of the shard's chunk c (the spill's section encoding).
type ShardPartial struct {
	Codes   [][][]byte
	Tokens  int64         // positions run through the model
	Forward time.Duration // model time
	Encode  time.Duration // SAE time
}

// Bytes is the size of the partial's codes.
func (s *ShardPartial) Bytes() int64 {
	var n int64
	for _, c := range s.Codes {
		for _, b := range c {
			n += int64(len(b))
		}
	}
	return n
}

// ComputeShard runs the model and the SAEs over shard s of plan, whose
// contexts are encoded as EncodeContexts does. o are the build's options
// (Corpus, Writer and WorkDir are not used).
func ComputeShard(ctx context.Context, o Options, plan Plan, s int, contexts []byte) (*ShardPartial, error) {
	if err := plan.check(); err != nil {
		return nil, err
	}
	o.Writer, o.WorkDir = noWriter{}, "-"
	b, err := newBuilder(o)
	if err != nil {
		return nil, err
	}
	if s < 0 || s >= plan.Shards() {
		return nil, fmt.Errorf("build: shard %d outside [0,%d)", s, plan.Shards())
	}
	c0, nc := plan.ShardChunkRange(s)
	first, n := plan.ShardContextRange(s)
	cs, err := DecodeContexts(contexts, n, b.o.ContextSize, o.Model.Cfg.VocabSize)
	if err != nil {
		return nil, fmt.Errorf("build: shard %d: %w", s, err)
	}
	out := &ShardPartial{Codes: make([][][]byte, nc)}
	var x []float32
	var times chunkTimes
	for c := c0; c < c0+nc; c++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		f := c * plan.ChunkContexts
		part := cs[f-first : min(f+plan.ChunkContexts, first+n)-first]
		job := &chunkJob{idx: c, first: f, codes: make([]*codes, len(o.Sources))}
		for i := range job.codes {
			job.codes[i] = &codes{}
		}
		if err := b.computeChunk(job, part, &x, &times); err != nil {
			return nil, err
		}
		secs := make([][]byte, len(o.Sources))
		for si, cd := range job.codes {
			secs[si] = appendSection(nil, cd, b.idxWidth())
		}
		out.Codes[c-c0] = secs
		for _, t := range part {
			out.Tokens += int64(len(t))
		}
	}
	out.Forward, out.Encode = times.forward, times.encode
	return out, nil
}

// InputsHash is Plan.InputsHash for o: a worker compares it with the plan
// before it computes anything.
func InputsHash(o Options) (string, error) {
	o.Writer, o.WorkDir = noWriter{}, "-"
	b, err := newBuilder(o)
	if err != nil {
		return "", err
	}
	return b.inputsHash()
}

// PartialReader reads back what a distributed build stored.
type PartialReader interface {
	// Contexts returns shard s's contexts (EncodeContexts's encoding).
	Contexts(ctx context.Context, shard int) ([]byte, error)
	// Codes returns source's codes for each chunk of shard s, in order
	// (ShardPartial.Codes[c][source's index]).
	Codes(ctx context.Context, source string, shard int) ([][]byte, error)
}

// MergeTiming splits a merge's wall time.
type MergeTiming struct {
	Fetch time.Duration // reading the partials into the local spill
	Bytes int64         // bytes of codes read
}

// Merge writes source's dashboards from the partials of every shard of
// plan, identical to those Build writes with the same options. It keeps
// a local spill under o.WorkDir while it runs; o.Corpus is not used.
func Merge(ctx context.Context, o Options, plan Plan, source string, r PartialReader) (*Result, *MergeTiming, error) {
	start := time.Now()
	if err := plan.check(); err != nil {
		return nil, nil, err
	}
	if plan.ChunkContexts != o.ChunkContexts && o.ChunkContexts > 0 {
		return nil, nil, fmt.Errorf("build: the plan has %d contexts per chunk, the options %d", plan.ChunkContexts, o.ChunkContexts)
	}
	o.ChunkContexts = plan.ChunkContexts
	b, err := newBuilder(o)
	if err != nil {
		return nil, nil, err
	}
	b.hash, b.res.Hash = plan.Hash, plan.Hash
	b.only = slices.IndexFunc(o.Sources, func(s Source) bool { return s.ID == source })
	if b.only < 0 {
		return nil, nil, fmt.Errorf("build: merge of source %q, which the options do not hold", source)
	}
	b.fromSpillOnly = true
	res, mt := b.res, &MergeTiming{}
	todo, err := b.pendingBatches(ctx)
	if err != nil {
		return nil, nil, err
	}
	s := o.Sources[b.only]
	if len(todo) == 0 {
		res.UpToDate = true
		b.status(s.ID, features.BuildDone, s.SAE.Cfg.DSAE, s.SAE.Cfg.DSAE, plan.Contexts, plan.Contexts, "")
		return res, mt, nil
	}
	b.dir = filepath.Join(o.WorkDir, "merge", o.ModelID, plan.Hash[:16]+"-"+source)
	res.SpillDir = b.dir
	unlock, err := b.lockDir()
	if err != nil {
		return nil, nil, err
	}
	defer unlock()
	err = b.merge(ctx, plan, r, todo, mt)
	if b.ctxs != nil {
		b.ctxs.Close()
		b.ctxs = nil
	}
	if err != nil {
		b.failed(ctx, err)
		return res, mt, err
	}
	b.refreshRanks(ctx)
	if !o.KeepSpill {
		if err := os.RemoveAll(b.dir); err != nil {
			b.log.Warn("remove merge spill", "dir", b.dir, "err", err)
		}
	}
	res.Timing.Total = time.Since(start)
	return res, mt, nil
}

// merge fetches the partials into the local spill (what an earlier,
// interrupted merge fetched is kept) and runs the passes.
func (b *builder) merge(ctx context.Context, plan Plan, r PartialReader, todo []batchUnit, mt *MergeTiming) error {
	o := b.o
	b.startProgress(todo, features.BuildPhaseStats)
	t := time.Now()
	ctxPath := filepath.Join(b.dir, "contexts.bin")
	if !fileExists(ctxPath) {
		_, err := writeContexts(ctxPath, o.ContextSize, func(emit func([]int32) error) error {
			for s := 0; s < plan.Shards(); s++ {
				data, err := r.Contexts(ctx, s)
				if err != nil {
					return fmt.Errorf("shard %d: %w", s, err)
				}
				_, n := plan.ShardContextRange(s)
				cs, err := DecodeContexts(data, n, o.ContextSize, o.Model.Cfg.VocabSize)
				if err != nil {
					return fmt.Errorf("shard %d: %w", s, err)
				}
				for _, c := range cs {
					if err := emit(c); err != nil {
						return err
					}
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("build: contexts: %w", err)
		}
	}
	cf, err := openContexts(ctxPath, o.ContextSize)
	if err != nil {
		return fmt.Errorf("build: %w", err)
	}
	b.ctxs = cf
	if cf.count != plan.Contexts {
		return fmt.Errorf("build: %d contexts stored, the plan has %d", cf.count, plan.Contexts)
	}
	b.res.Contexts = cf.count

	width := b.idxWidth()
	cs := make([]*codes, len(o.Sources))
	var buf []byte
	for s := 0; s < plan.Shards(); s++ {
		c0, nc := plan.ShardChunkRange(s)
		have := true
		for c := c0; c < c0+nc; c++ {
			have = have && fileExists(b.chunkPath(c))
		}
		if have {
			continue
		}
		secs, err := r.Codes(ctx, o.Sources[b.only].ID, s)
		if err != nil {
			return fmt.Errorf("build: codes of shard %d: %w", s, err)
		}
		if len(secs) != nc {
			return fmt.Errorf("build: shard %d has codes for %d chunks, want %d", s, len(secs), nc)
		}
		for i, sec := range secs {
			c := c0 + i
			first := c * plan.ChunkContexts
			cnt := min(plan.ChunkContexts, plan.Contexts-first)
			chunkCtxs, err := cf.read(first, cnt)
			if err != nil {
				return fmt.Errorf("build: %w", err)
			}
			tokens := 0
			for _, c := range chunkCtxs {
				tokens += len(c)
			}
			for si := range cs {
				if si == b.only {
					cs[si] = &codes{}
					if err := decodeSection(sec, tokens, width, cs[si]); err != nil {
						return fmt.Errorf("build: codes of chunk %d, source %s: %w", c, o.Sources[si].ID, err)
					}
				} else {
					cs[si] = &codes{off: make([]int32, tokens+1)}
				}
			}
			mt.Bytes += int64(len(sec))
			h := chunkHeader{chunk: c, first: first, contexts: cnt, tokens: tokens, idxWidth: width}
			if err := writeChunk(b.chunkPath(c), h, cs, &buf); err != nil {
				return fmt.Errorf("build: spill: %w", err)
			}
		}
		b.statusAll(features.BuildRunning, 0, min((s+1)*plan.ShardChunks*plan.ChunkContexts, plan.Contexts), plan.Contexts, "")
	}
	mt.Fetch = time.Since(t)
	b.prog.ContextsTotal = cf.count
	b.log.Info("dashboard merge", "model", o.ModelID, "source", o.Sources[b.only].ID, "contexts", cf.count,
		"batches to write", len(todo), "spill", b.dir)
	return b.passes(ctx, todo)
}

// noWriter stands in for the writer where a step writes nothing.
type noWriter struct{}

func (noWriter) WriteFeatures(context.Context, *features.FeatureBatch) error {
	return errors.New("build: this step writes no features")
}
func (noWriter) WriteActivations(context.Context, []*features.Activation) error {
	return errors.New("build: this step writes no activations")
}
func (noWriter) WriteExplanations(context.Context, []*features.Explanation, *features.Checkpoint) error {
	return errors.New("build: this step writes no explanations")
}
func (noWriter) Done(context.Context, features.Checkpoint) (bool, error) { return false, nil }
