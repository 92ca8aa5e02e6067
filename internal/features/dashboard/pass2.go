package dashboard

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"math"
	"runtime"
	"sort"
	"sync"
	"time"

	"saex/internal/features"
)

// Pass 2 streams the spill once more, now that every feature's range is
// known, to fill the histograms, count the interval bins, draw the
// interval examples and copy the per-token values of every kept example.

const (
	histBins     = 50 // activation and logit histograms
	intervalBins = 10 // equal-width example groups over (0, max]: [lower, upper), the top one closed
	perInterval  = 5  // examples drawn per group
)

// posVal is one non-zero activation of a feature within a context.
type posVal struct {
	pos uint16
	val float32
}

// sample is one kept example: a context, the token that qualified it, and
// the feature's non-zero values over the whole context.
type sample struct {
	ctx  int32
	pos  uint16
	val  float32
	vals []posVal
}

type pass2 struct {
	p1       *pass1
	seed     uint64
	hist     []uint32 // dsae*histBins
	binCount []int64  // dsae*intervalBins
	res      []sample // dsae*intervalBins*perInterval
	rng      []uint64
	topVals  [][]posVal // dsae*k, per kept top context

	// topAt lists, by context, the top examples to copy values for.
	topAt  []topRef
	topCur int

	// per-context scratch: entries of the context linked per feature
	head    []int32
	next    []int32
	epos    []uint16
	eval    []float32
	touched []int32
	pending []pick
}

type topRef struct {
	ctx  int32
	f    int32
	rank uint8
}

// pick is a reservoir slot filled in the current context.
type pick struct {
	f, slot int32
}

func newPass2(p1 *pass1, seed uint64) *pass2 {
	d := p1.dsae
	p := &pass2{p1: p1, seed: seed,
		hist: make([]uint32, d*histBins), binCount: make([]int64, d*intervalBins),
		res: make([]sample, d*intervalBins*perInterval), rng: make([]uint64, d),
		topVals: make([][]posVal, d*p1.k), head: make([]int32, d)}
	for f := range p.rng {
		p.rng[f] = splitmix(seed ^ uint64(f)*0x9E3779B97F4A7C15)
	}
	for i := range p.head {
		p.head[i] = -1
	}
	for f := 0; f < d; f++ {
		for r, e := range p1.topOf(f) {
			p.topAt = append(p.topAt, topRef{ctx: e.ctx, f: int32(f), rank: uint8(r)})
		}
	}
	sort.Slice(p.topAt, func(i, j int) bool {
		a, b := p.topAt[i], p.topAt[j]
		if a.ctx != b.ctx {
			return a.ctx < b.ctx
		}
		return a.f < b.f
	})
	return p
}

// splitmix is SplitMix64's output function: a fixed, portable RNG so that
// the drawn examples are identical on every run and machine.
func splitmix(x uint64) uint64 {
	x += 0x9E3779B97F4A7C15
	x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9
	x = (x ^ (x >> 27)) * 0x94D049BB133111EB
	return x ^ (x >> 31)
}

// intn draws uniformly from [0, n) with feature f's generator.
func (p *pass2) intn(f int32, n int64) int64 {
	p.rng[f] = splitmix(p.rng[f])
	hi, _ := mulHi(p.rng[f], uint64(n))
	return int64(hi)
}

func mulHi(a, b uint64) (uint64, uint64) {
	const mask32 = 1<<32 - 1
	a0, a1 := a&mask32, a>>32
	b0, b1 := b&mask32, b>>32
	w0 := a0 * b0
	t := a1*b0 + w0>>32
	w1 := t&mask32 + a0*b1
	return a1*b1 + t>>32 + w1>>32, a * b
}

// intervalEdge is the lower edge of interval bin j of a feature whose
// largest activation is mx (edge intervalBins is mx itself).
func intervalEdge(mx float32, j int) float64 {
	if j == intervalBins {
		return float64(mx)
	}
	return float64(mx) * float64(j) / intervalBins
}

// intervalBin is the interval group of v > 0, as SAEDashboard bins them:
// [edge(b), edge(b+1)), the top group closed so that the max has one.
// Zero activations are never sampled (the lowest group is (0, edge(1))):
// an all-zero example tells a reader nothing.
func intervalBin(mx, v float32) int {
	b := int(math.Floor(float64(v) / float64(mx) * intervalBins))
	b = min(max(b, 0), intervalBins-1)
	for b > 0 && float64(v) < intervalEdge(mx, b) {
		b--
	}
	for b < intervalBins-1 && float64(v) >= intervalEdge(mx, b+1) {
		b++
	}
	return b
}

// histRange returns the edges torch.histc uses for data in [lo, hi]:
// the data's range, widened by 1 each side when it is a single value.
func histRange(lo, hi float64) (float64, float64) {
	if lo == hi {
		return lo - 1, hi + 1
	}
	return lo, hi
}

// histBin is v's bin among n equal bins over [lo, hi] (hi in the last).
func histBin(v, lo, hi float64, n int) int {
	b := int((v - lo) / (hi - lo) * float64(n))
	return min(max(b, 0), n-1)
}

// addChunk streams one chunk's codes.
func (p *pass2) addChunk(c *codes, first int, lens []int) {
	p1 := p.p1
	t := 0
	for ci, l := range lens {
		ctx := int32(first + ci)
		p.next, p.epos, p.eval = p.next[:0], p.epos[:0], p.eval[:0]
		for pos := 0; pos < l; pos++ {
			for e := c.off[t]; e < c.off[t+1]; e++ {
				f, v := c.idx[e], c.val[e]
				// Link the entry into f's list for this context (in position order,
				// built reversed and read back from the tail).
				if p.head[f] < 0 {
					p.touched = append(p.touched, f)
				}
				p.next = append(p.next, p.head[f])
				p.epos = append(p.epos, uint16(pos))
				p.eval = append(p.eval, v)
				p.head[f] = int32(len(p.next) - 1)

				mx := p1.max[f]
				lo, hi := histRange(float64(p1.min[f]), float64(mx))
				p.hist[int(f)*histBins+histBin(float64(v), lo, hi, histBins)]++
				b := intervalBin(mx, v)
				slot := int(f)*intervalBins + b
				p.binCount[slot]++
				n := p.binCount[slot]
				var s int64 = -1
				if n <= perInterval {
					s = n - 1
				} else if j := p.intn(f, n); j < perInterval {
					s = j
				}
				if s >= 0 {
					ri := int32(slot*perInterval + int(s))
					p.res[ri] = sample{ctx: ctx, pos: uint16(pos), val: v}
					p.pending = append(p.pending, pick{f: f, slot: ri})
				}
			}
			t++
		}
		// Copy values for examples kept from this context.
		for _, pk := range p.pending {
			if p.res[pk.slot].ctx == ctx && p.res[pk.slot].vals == nil {
				p.res[pk.slot].vals = p.valuesOf(pk.f)
			}
		}
		p.pending = p.pending[:0]
		for p.topCur < len(p.topAt) && p.topAt[p.topCur].ctx < ctx {
			p.topCur++ // contexts not in this run (cannot happen in a full pass)
		}
		for p.topCur < len(p.topAt) && p.topAt[p.topCur].ctx == ctx {
			r := p.topAt[p.topCur]
			p.topVals[int(r.f)*p1.k+int(r.rank)] = p.valuesOf(r.f)
			p.topCur++
		}
		for _, f := range p.touched {
			p.head[f] = -1
		}
		p.touched = p.touched[:0]
	}
}

// valuesOf returns feature f's entries in the current context, in
// position order.
func (p *pass2) valuesOf(f int32) []posVal {
	n := 0
	for e := p.head[f]; e >= 0; e = p.next[e] {
		n++
	}
	out := make([]posVal, n)
	i := n
	for e := p.head[f]; e >= 0; e = p.next[e] {
		i--
		out[i] = posVal{pos: p.epos[e], val: p.eval[e]}
	}
	return out
}

// pass2 streams the spill once per SAE (SAEs in parallel).
func (b *builder) pass2(ctx context.Context) error {
	o := b.o
	n := b.ctxs.count
	nchunks := (n + o.ChunkContexts - 1) / o.ChunkContexts
	b.p2 = make([]*pass2, len(o.Sources))
	for i := range o.Sources {
		if b.on(i) {
			b.p2[i] = newPass2(b.p1[i], seedFor(b.hash, o.Sources[i].ID))
		}
	}
	b.progress(Progress{Phase: "stats", ContextsDone: n, ContextsTotal: n, TokensDone: b.tokens,
		FeaturesDone: b.prog.FeaturesDone, FeaturesTotal: b.prog.FeaturesTotal}, true)
	b.prog.Phase = features.BuildPhaseStats
	b.statusAll(features.BuildRunning, 0, 0, n, "")
	lens := make([]int, n)
	for c0 := 0; c0 < n; c0 += 4096 {
		cnt := min(4096, n-c0)
		cs, err := b.ctxs.read(c0, cnt)
		if err != nil {
			return fmt.Errorf("build: %w", err)
		}
		for i, t := range cs {
			lens[c0+i] = len(t)
		}
	}
	errs := make([]error, len(o.Sources))
	sem := make(chan struct{}, max(1, runtime.GOMAXPROCS(0)))
	var wg sync.WaitGroup
	reporter := -1
	for si := range o.Sources {
		if !b.on(si) {
			continue
		}
		if reporter < 0 {
			reporter = si
		}
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			want := make([]bool, len(o.Sources))
			want[si] = true
			dst := make([]*codes, len(o.Sources))
			dst[si] = &codes{}
			var buf []byte
			for c := 0; c < nchunks; c++ {
				if err := ctx.Err(); err != nil {
					errs[si] = err
					return
				}
				first := c * o.ChunkContexts
				cnt := min(o.ChunkContexts, n-first)
				h, err := readChunk(b.chunkPath(c), len(o.Sources), want, dst, &buf)
				if err != nil {
					errs[si] = fmt.Errorf("build: %w", err)
					return
				}
				if h.first != first || h.contexts != cnt {
					errs[si] = fmt.Errorf("build: spill chunk %d holds contexts [%d,+%d), want [%d,+%d)", c, h.first, h.contexts, first, cnt)
					return
				}
				b.p2[si].addChunk(dst[si], first, lens[first:first+cnt])
				// The first SAE's goroutine (of this run) reports pass 2's progress for
				// all (they stream the same chunks at about the same pace).
				if si == reporter && time.Since(b.lastStatus) >= time.Second {
					b.lastStatus = time.Now()
					b.statusAll(features.BuildRunning, 0, first+cnt, n, "")
				}
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// seedFor derives the interval-sampling seed of one source from the build
// hash, so a rerun draws the same examples.
func seedFor(hash, source string) uint64 {
	s := sha256.Sum256([]byte(hash + "\x00" + source))
	var x uint64
	for _, c := range s[:8] {
		x = x<<8 | uint64(c)
	}
	return x
}
