package dashboard

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"saex/internal/features"
)

// Pass 1 keeps, per feature, what needs the whole corpus before examples
// can be chosen: how often it fires, its largest and smallest non-zero
// activation, and its top contexts. It sees each chunk once, from the
// model or from the spill, and its result does not depend on the order
// chunks arrive in (ties between contexts go to the lower index).

// topEntry is one candidate top example: a context, the context's
// largest activation of the feature, and where (first position of it).
type topEntry struct {
	val float32
	ctx int32
	pos uint16
}

// worse orders top candidates: smaller value, then the later context.
func worse(a, b topEntry) bool {
	return a.val < b.val || (a.val == b.val && a.ctx > b.ctx)
}

type pass1 struct {
	dsae, k int
	count   []int64
	max     []float32
	min     []float32
	top     []topEntry // dsae*k; feature f's heap is top[f*k : f*k+ntop[f]]
	ntop    []uint8

	// per-context scratch
	ctxMax  []float32
	ctxPos  []uint16
	touched []int32
}

func newPass1(dsae, k int) *pass1 {
	p := &pass1{dsae: dsae, k: k,
		count: make([]int64, dsae), max: make([]float32, dsae), min: make([]float32, dsae),
		top: make([]topEntry, dsae*k), ntop: make([]uint8, dsae),
		ctxMax: make([]float32, dsae), ctxPos: make([]uint16, dsae)}
	return p
}

// addChunk accumulates one chunk: lens are its contexts' lengths in order,
// starting at context index first.
func (p *pass1) addChunk(c *codes, first int, lens []int) error {
	t := 0
	for ci, l := range lens {
		ctx := int32(first + ci)
		for pos := 0; pos < l; pos++ {
			for e := c.off[t]; e < c.off[t+1]; e++ {
				f, v := c.idx[e], c.val[e]
				if f < 0 || int(f) >= p.dsae {
					return fmt.Errorf("context %d position %d: feature index %d outside [0,%d)", ctx, pos, f, p.dsae)
				}
				if p.count[f] == 0 {
					p.max[f], p.min[f] = v, v
				} else {
					p.max[f] = max(p.max[f], v)
					p.min[f] = min(p.min[f], v)
				}
				p.count[f]++
				if p.ctxMax[f] == 0 {
					p.touched = append(p.touched, f)
					p.ctxMax[f], p.ctxPos[f] = v, uint16(pos)
				} else if v > p.ctxMax[f] {
					p.ctxMax[f], p.ctxPos[f] = v, uint16(pos)
				}
			}
			t++
		}
		for _, f := range p.touched {
			p.offer(int(f), topEntry{val: p.ctxMax[f], ctx: ctx, pos: p.ctxPos[f]})
			p.ctxMax[f] = 0
		}
		p.touched = p.touched[:0]
	}
	if t != c.tokens() {
		return fmt.Errorf("chunk at context %d: %d tokens in the codes, contexts hold %d", first, c.tokens(), t)
	}
	return nil
}

// offer keeps e if it is among the k best contexts of feature f (a
// min-heap whose root is the worst kept entry).
func (p *pass1) offer(f int, e topEntry) {
	h := p.top[f*p.k : f*p.k+p.k]
	n := int(p.ntop[f])
	if n < p.k {
		h[n] = e
		p.ntop[f]++
		for i := n; i > 0; {
			parent := (i - 1) / 2
			if !worse(h[i], h[parent]) {
				break
			}
			h[i], h[parent] = h[parent], h[i]
			i = parent
		}
		return
	}
	if !worse(h[0], e) {
		return
	}
	h[0] = e
	for i := 0; ; {
		l, r, m := 2*i+1, 2*i+2, i
		if l < n && worse(h[l], h[m]) {
			m = l
		}
		if r < n && worse(h[r], h[m]) {
			m = r
		}
		if m == i {
			break
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
}

// topOf returns feature f's kept contexts, best first.
func (p *pass1) topOf(f int) []topEntry {
	out := append([]topEntry(nil), p.top[f*p.k:f*p.k+int(p.ntop[f])]...)
	// Insertion sort: at most k (20) entries.
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && worse(out[j-1], out[j]); j-- {
			out[j-1], out[j] = out[j], out[j-1]
		}
	}
	return out
}

// chunkJob is one chunk on its way from the model (or the spill) to the
// accumulators.
type chunkJob struct {
	idx, first int
	lens       []int
	codes      []*codes
	counted    int // non-BOS positions
	computed   bool
	err        error
}

// chunkTimes is where pass 1's producer spends its time (Result.Timing).
type chunkTimes struct {
	forward, encode, book time.Duration
}

// pass1 runs every chunk through the model and SAEs (or reads it back from
// the spill), writes new chunks and accumulates pass-1 statistics. The
// model runs in one goroutine (produceChunks) while the previous chunk is
// written and accumulated in this one.
func (b *builder) pass1(ctx context.Context) error {
	o := b.o
	n := b.ctxs.count
	b.p1 = make([]*pass1, len(o.Sources))
	for i, s := range o.Sources {
		if b.on(i) {
			b.p1[i] = newPass1(s.SAE.Cfg.DSAE, TopExamples)
		}
	}
	jobs := make(chan *chunkJob, 1)
	free := make(chan []*codes, 3)
	for range 3 {
		cs := make([]*codes, len(o.Sources))
		for i := range cs {
			cs[i] = &codes{}
		}
		free <- cs
	}
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var times chunkTimes
	go func() {
		defer close(jobs)
		b.produceChunks(pctx, jobs, free, &times)
	}()

	var firstErr error
	var writeBuf []byte
	var consBook time.Duration
	for job := range jobs {
		if firstErr != nil {
			continue // drain
		}
		if job.err == nil {
			job.err = ctx.Err()
		}
		if job.err != nil {
			firstErr = job.err
			cancel()
			continue
		}
		tc := time.Now()
		if err := b.accumulateChunk(job, &writeBuf); err != nil {
			firstErr = err
			cancel()
			continue
		}
		consBook += time.Since(tc)
		free <- job.codes
		b.prog.Phase = features.BuildPhaseEncode
		b.prog.ContextsDone = job.first + len(job.lens)
		b.prog.TokensDone = b.tokens
		if b.progress(b.prog, false) && time.Since(b.lastStatus) >= time.Second {
			b.lastStatus = time.Now()
			b.statusAll(features.BuildRunning, 0, b.prog.ContextsDone, n, "")
		}
	}
	// jobs is closed: the producer is done with times.
	b.res.Timing.Forward, b.res.Timing.Encode = times.forward, times.encode
	b.res.Timing.Bookkeeping = times.book + consBook
	return firstErr
}

// produceChunks sends every chunk to jobs in order, read back from the
// spill when a readable chunk file exists and computed otherwise, taking
// code buffers from free. It stops at the first error (sent as the job's
// err) or when ctx ends.
func (b *builder) produceChunks(ctx context.Context, jobs chan<- *chunkJob, free <-chan []*codes, times *chunkTimes) {
	o := b.o
	n := b.ctxs.count
	nchunks := (n + o.ChunkContexts - 1) / o.ChunkContexts
	computed := 0
	var x []float32
	var readBuf []byte
	for c := 0; c < nchunks; c++ {
		first := c * o.ChunkContexts
		cnt := min(o.ChunkContexts, n-first)
		job := &chunkJob{idx: c, first: first}
		select {
		case job.codes = <-free:
		case <-ctx.Done():
			return
		}
		ctxTokens, err := b.ctxs.read(first, cnt)
		if err != nil {
			job.err = err
			jobs <- job
			return
		}
		for _, t := range ctxTokens {
			job.lens = append(job.lens, len(t))
			for _, id := range t {
				if !b.skipped(id) {
					job.counted++
				}
			}
		}
		path := b.chunkPath(c)
		if fileExists(path) {
			if _, err := readChunk(path, len(o.Sources), nil, job.codes, &readBuf); err == nil {
				jobs <- job
				continue
			} else {
				b.log.Warn("spill chunk unreadable; recomputing", "err", err)
			}
		}
		if b.fromSpillOnly {
			job.err = fmt.Errorf("build: spill chunk %d is missing or unreadable", c)
			jobs <- job
			return
		}
		if o.stopAfterChunks > 0 && computed >= o.stopAfterChunks {
			job.err = fmt.Errorf("build: stopped after %d chunks (test)", computed)
			jobs <- job
			return
		}
		computed++
		job.computed = true
		if job.err = b.computeChunk(job, ctxTokens, &x, times); job.err != nil {
			jobs <- job
			return
		}
		jobs <- job
	}
}

// computeChunk runs one chunk's contexts through the model and every SAE
// into job.codes (BOS positions are left out of the codes); x is scratch
// space for one SAE's input.
func (b *builder) computeChunk(job *chunkJob, ctxTokens [][]int32, x *[]float32, times *chunkTimes) error {
	o := b.o
	batch := make([][]int, len(ctxTokens))
	total := 0
	skip := make([]bool, 0, len(ctxTokens)*o.ContextSize)
	for i, t := range ctxTokens {
		batch[i] = make([]int, len(t))
		for j, id := range t {
			batch[i][j] = int(id)
			skip = append(skip, b.skipped(id))
		}
		total += len(t)
	}
	t0 := time.Now()
	acts, err := o.Model.Forward(batch, b.hooks)
	if err != nil {
		return fmt.Errorf("build: chunk %d: %w", job.idx, err)
	}
	times.forward += time.Since(t0)
	for si, s := range o.Sources {
		tb := time.Now()
		d := s.SAE.Cfg.DIn
		*x = growF(*x, total*d)
		off := 0
		for q := range batch {
			part := acts.GetHook(b.hookOf[si], q)
			copy((*x)[off:], part)
			off += len(part)
		}
		te := time.Now()
		feats, err := s.SAE.EncodeSparse((*x)[:total*d], total)
		if err != nil {
			return fmt.Errorf("build: chunk %d, source %s: %w", job.idx, s.ID, err)
		}
		tf := time.Now()
		times.encode += tf.Sub(te)
		fromSparse(job.codes[si], feats, skip)
		times.book += te.Sub(tb) + time.Since(tf)
	}
	return nil
}

// accumulateChunk writes a computed chunk to the spill and adds the chunk
// to every source's pass-1 statistics (sources in parallel).
func (b *builder) accumulateChunk(job *chunkJob, writeBuf *[]byte) error {
	o := b.o
	if job.computed {
		h := chunkHeader{chunk: job.idx, first: job.first, contexts: len(job.lens), tokens: job.codes[0].tokens(), idxWidth: b.idxWidth()}
		if err := writeChunk(b.chunkPath(job.idx), h, job.codes, writeBuf); err != nil {
			return fmt.Errorf("build: spill: %w", err)
		}
		b.res.Timing.ChunksComputed++
	} else {
		b.res.Timing.ChunksFromSpill++
	}
	errs := make([]error, len(o.Sources))
	var wg sync.WaitGroup
	for si := range o.Sources {
		if b.on(si) {
			wg.Go(func() { errs[si] = b.p1[si].addChunk(job.codes[si], job.first, job.lens) })
		}
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("build: chunk %d: %w", job.idx, err)
	}
	for _, l := range job.lens {
		b.tokens += int64(l)
	}
	b.counted += int64(job.counted)
	return nil
}

func growF(buf []float32, n int) []float32 {
	if cap(buf) < n {
		return make([]float32, n)
	}
	return buf[:n]
}
