package dashboard

import (
	"bufio"
	"cmp"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"

	"saex/internal/compute/sae"
	"saex/internal/compute/tokenizer"
	"saex/internal/compute/transformer"
	"saex/internal/features"
)

const (
	demoDir    = "../../../demo/demo-gpt2-4l"
	demoCorpus = demoDir + "/corpus/eval.jsonl.gz"
)

type demoFixture struct {
	model   *transformer.Model
	tok     *tokenizer.Tokenizer
	sources []Source
}

var (
	demoOnce sync.Once
	demo     demoFixture
	demoErr  error
)

func loadDemo(tb testing.TB) demoFixture {
	tb.Helper()
	demoOnce.Do(func() {
		if demo.model, demoErr = transformer.Load(demoDir + "/model"); demoErr != nil {
			return
		}
		if demo.tok, demoErr = tokenizer.Load(demoDir + "/model"); demoErr != nil {
			return
		}
		for l := 1; l <= 3; l++ {
			s, err := sae.Load(fmt.Sprintf("%s/saes/blocks.%d.hook_resid_pre", demoDir, l))
			if err != nil {
				demoErr = err
				return
			}
			demo.sources = append(demo.sources, Source{ID: fmt.Sprintf("%d-res-topk", l), SetName: "res-topk", SAE: s})
		}
	})
	if demoErr != nil {
		tb.Fatal(demoErr)
	}
	return demo
}

// memWriter keeps written batches in memory. It stands in for the store
// only where a test checks the computation; the resume test uses the real
// store.
type memWriter struct {
	mu    sync.Mutex
	feats map[string]map[int]*features.Feature
	cps   map[features.Checkpoint]bool
}

func newMemWriter() *memWriter {
	return &memWriter{feats: map[string]map[int]*features.Feature{}, cps: map[features.Checkpoint]bool{}}
}

func (w *memWriter) WriteFeatures(_ context.Context, b *features.FeatureBatch) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	m := w.feats[b.SourceID]
	if m == nil {
		m = map[int]*features.Feature{}
		w.feats[b.SourceID] = m
	}
	for _, f := range b.Features {
		m[f.Index] = f
	}
	if b.Checkpoint != nil {
		w.cps[*b.Checkpoint] = true
	}
	return nil
}

func (w *memWriter) WriteActivations(context.Context, []*features.Activation) error {
	return fmt.Errorf("not used by the builder")
}

func (w *memWriter) WriteExplanations(context.Context, []*features.Explanation, *features.Checkpoint) error {
	return fmt.Errorf("not used by the builder")
}

func (w *memWriter) Done(_ context.Context, cp features.Checkpoint) (bool, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.cps[cp], nil
}

// refContexts re-derives the build's contexts from the corpus, the plain
// way: every document's tokens, BOS between documents, [BOS] + 127 tokens
// per context.
func refContexts(t *testing.T, tok *tokenizer.Tokenizer, n, size int) [][]int {
	f, err := os.Open(demoCorpus)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(gz)
	sc.Buffer(nil, 1<<24)
	var stream []int
	for sc.Scan() && len(stream) < n*size {
		var doc struct{ Text string }
		if err := json.Unmarshal(sc.Bytes(), &doc); err != nil {
			t.Fatal(err)
		}
		ids, _ := tok.Encode(doc.Text)
		if len(stream) > 0 {
			stream = append(stream, 0)
		}
		stream = append(stream, ids...)
	}
	var out [][]int
	for len(out) < n {
		if len(stream) > 0 && stream[0] == 0 {
			stream = stream[1:]
		}
		take := min(size-1, len(stream))
		out = append(out, append([]int{0}, stream[:take]...))
		stream = stream[take:]
	}
	return out
}

func buildDemo(t *testing.T, contexts int) (*memWriter, *Result, demoFixture) {
	d := loadDemo(t)
	w := newMemWriter()
	res, err := Build(context.Background(), Options{
		ModelID: "demo-gpt2-4l", Model: d.model, Tokenizer: d.tok, ModelDir: demoDir + "/model",
		Sources: d.sources, Corpus: demoCorpus, MaxContexts: contexts, ChunkContexts: 32,
		WorkDir: t.TempDir(), Writer: w, Dataset: "demo corpus (eval split)",
	})
	if err != nil {
		t.Fatal(err)
	}
	return w, res, d
}

func relClose(a, b float64) bool {
	return math.Abs(a-b) <= 1e-4*math.Max(math.Max(math.Abs(a), math.Abs(b)), 1e-6)
}

// TestBuildMatchesBruteForce checks a sample of features against a
// brute-force reference: every context encoded on its own, densely, and
// the statistics computed by sorting.
func TestBuildMatchesBruteForce(t *testing.T) {
	const nctx = 96
	w, res, d := buildDemo(t, nctx)
	t.Logf("build timing: %+v", res.Timing)
	ctxs := refContexts(t, d.tok, nctx, 128)
	counted := 0
	for _, c := range ctxs {
		for _, id := range c {
			if id != 0 {
				counted++
			}
		}
	}
	if res.Contexts != nctx || res.Tokens != nctx*128 || res.Counted != int64(counted) {
		t.Fatalf("contexts %d, tokens %d, counted %d; want %d, %d, %d", res.Contexts, res.Tokens, res.Counted, nctx, nctx*128, counted)
	}
	var sample []int
	for i := 0; i < 4096; i += 97 {
		sample = append(sample, i)
	}
	for si, src := range d.sources {
		got := w.feats[src.ID]
		if len(got) != 4096 {
			t.Fatalf("%s: %d features written", src.ID, len(got))
		}
		// ref[k][c][p]: sample feature k's activation in context c at p.
		ref := make([][][]float32, len(sample))
		for k := range ref {
			ref[k] = make([][]float32, nctx)
		}
		for c, ids := range ctxs {
			acts, err := d.model.Forward([][]int{ids}, []string{src.SAE.Cfg.HookName})
			if err != nil {
				t.Fatal(err)
			}
			dense, err := src.SAE.EncodeDense(acts.Get(src.SAE.Cfg.HookName, 0), len(ids))
			if err != nil {
				t.Fatal(err)
			}
			for k, f := range sample {
				row := make([]float32, len(ids))
				for p := range ids {
					if ids[p] != 0 {
						row[p] = dense[p*4096+f]
					}
				}
				ref[k][c] = row
			}
		}
		for k, f := range sample {
			checkFeature(t, fmt.Sprintf("%s:%d", src.ID, f), got[f], ref[k], ctxs, d.tok, counted)
		}
		_ = si
	}
}

func checkFeature(t *testing.T, name string, ft *features.Feature, ref [][]float32, ctxs [][]int, tok *tokenizer.Tokenizer, counted int) {
	t.Helper()
	type ctxMax struct {
		c, pos int
		v      float32
	}
	var count int
	var mx float32
	var tops []ctxMax
	var all []float32
	for c, row := range ref {
		best := ctxMax{c: c, pos: -1}
		for p, v := range row {
			if v > 0 {
				count++
				all = append(all, v)
				mx = max(mx, v)
				if best.pos < 0 || v > best.v {
					best = ctxMax{c: c, pos: p, v: v}
				}
			}
		}
		if best.pos >= 0 {
			tops = append(tops, best)
		}
	}
	slices.SortStableFunc(tops, func(a, b ctxMax) int { return cmp.Compare(b.v, a.v) })
	tops = tops[:min(len(tops), TopExamples)]

	if want := float64(count) / float64(counted); ft.FracNonzero != want {
		t.Errorf("%s: density %v, want %v", name, ft.FracNonzero, want)
	}
	if count == 0 {
		if ft.MaxActApprox != 0 || len(ft.Activations) != 0 {
			t.Errorf("%s: dead feature has max %v and %d examples", name, ft.MaxActApprox, len(ft.Activations))
		}
		return
	}
	if !relClose(ft.MaxActApprox, float64(mx)) {
		t.Errorf("%s: max %v, want %v", name, ft.MaxActApprox, mx)
	}
	var hsum float64
	for _, h := range ft.FreqHistHeights {
		hsum += h
	}
	if int(hsum) != count || len(ft.FreqHistHeights) != histBins || len(ft.FreqHistValues) != histBins {
		t.Errorf("%s: histogram sums to %v over %d bins, want %d non-zero activations", name, hsum, len(ft.FreqHistHeights), count)
	}

	var top, intervals []*features.Activation
	for _, a := range ft.Activations {
		if a.InTopGroup() {
			top = append(top, a)
		} else {
			intervals = append(intervals, a)
		}
	}
	if len(top) != len(tops) {
		t.Fatalf("%s: %d top examples, want %d", name, len(top), len(tops))
	}
	for r, a := range top {
		c, _ := strconv.Atoi(*a.DataIndex)
		want := tops[r]
		if c != want.c {
			// Allowed only for a near-tie with the reference's neighbour.
			near := (r > 0 && math.Abs(float64(tops[r-1].v-want.v)) < 1e-4) || (r+1 < len(tops) && math.Abs(float64(tops[r+1].v-want.v)) < 1e-4)
			if !near {
				t.Errorf("%s: top %d is context %d (%v), want %d (%v)", name, r, c, a.MaxValue, want.c, want.v)
			}
			continue
		}
		if !relClose(a.MaxValue, float64(want.v)) || a.MaxValueTokenIndex != want.pos || *a.QualifyingTokenIndex != want.pos {
			t.Errorf("%s: top %d: max %v at %d, want %v at %d", name, r, a.MaxValue, a.MaxValueTokenIndex, want.v, want.pos)
		}
		checkExample(t, name, a, ref[c], ctxs[c], tok)
		if *a.BinMin != -1 || *a.BinContains != -1 || *a.BinMax != ft.MaxActApprox {
			t.Errorf("%s: top group bounds %v %v %v", name, *a.BinMin, *a.BinMax, *a.BinContains)
		}
	}

	// Interval groups: bin counts from the reference, samples inside their bins.
	// SAEDashboard's groups: [lower, upper), the top one closed; zeros are
	// not sampled.
	binCount := make([]int, intervalBins)
	for _, v := range all {
		for b := intervalBins - 1; b >= 0; b-- {
			if float64(v) >= intervalEdge(mx, b) {
				binCount[b]++
				break
			}
		}
	}
	perBin := map[float64]int{}
	type pair struct{ c, q int }
	seen := map[float64]map[pair]bool{}
	for _, a := range intervals {
		c, _ := strconv.Atoi(*a.DataIndex)
		q := *a.QualifyingTokenIndex
		v := float64(ref[c][q])
		top := *a.BinMax == float64(mx)
		if v <= 0 || v < *a.BinMin || v > *a.BinMax || (v == *a.BinMax && !top) {
			t.Errorf("%s: interval example value %v at context %d position %d outside its bin [%v, %v)", name, v, c, q, *a.BinMin, *a.BinMax)
		}
		if seen[*a.BinMin] == nil {
			seen[*a.BinMin] = map[pair]bool{}
		}
		if seen[*a.BinMin][pair{c, q}] {
			t.Errorf("%s: context %d token %d drawn twice in the interval from %v", name, c, q, *a.BinMin)
		}
		seen[*a.BinMin][pair{c, q}] = true
		b := int(math.Round(*a.BinMin / float64(mx) * intervalBins))
		if want := float64(binCount[b]) / float64(count); math.Abs(*a.BinContains-want) > 1e-12 {
			t.Errorf("%s: bin %d contains %v, want %v", name, b, *a.BinContains, want)
		}
		perBin[*a.BinMin]++
		checkExample(t, name, a, ref[c], ctxs[c], tok)
	}
	for b, n := range binCount {
		if want := min(n, perInterval); perBin[intervalEdge(mx, b)] != want {
			t.Errorf("%s: bin %d has %d examples, want %d", name, b, perBin[intervalEdge(mx, b)], want)
		}
	}
}

func checkExample(t *testing.T, name string, a *features.Activation, ref []float32, ids []int, tok *tokenizer.Tokenizer) {
	t.Helper()
	if len(a.Values) != len(ref) || len(a.Tokens) != len(ids) {
		t.Errorf("%s: example %s has %d values, %d tokens; want %d", name, a.ID, len(a.Values), len(a.Tokens), len(ref))
		return
	}
	disp := tok.Display(ids)
	for p := range ref {
		if a.Tokens[p] != disp[p] {
			t.Errorf("%s: example %s token %d is %q, want %q", name, a.ID, p, a.Tokens[p], disp[p])
			return
		}
		if !relClose(float64(a.Values[p]), float64(ref[p])) {
			t.Errorf("%s: example %s value %d is %v, want %v", name, a.ID, p, a.Values[p], ref[p])
			return
		}
	}
}

// TestLogitEffects compares one demo feature's logit table with a direct
// float64 computation from the weights: W_U = ln_f.w * wte^T, centred
// over d_model per token and over the vocabulary per row.
func TestLogitEffects(t *testing.T) {
	d := loadDemo(t)
	m := d.model
	dm, v := m.Cfg.NEmbd, m.Cfg.VocabSize
	wte := m.WUT()
	lnw, _ := m.LnFinal()
	wu := make([][]float64, dm) // [d][vocab]
	for j := range wu {
		wu[j] = make([]float64, v)
	}
	for tk := 0; tk < v; tk++ {
		var mean float64
		for j := 0; j < dm; j++ {
			wu[j][tk] = float64(lnw[j]) * float64(wte[tk*dm+j])
			mean += wu[j][tk]
		}
		for j := 0; j < dm; j++ {
			wu[j][tk] -= mean / float64(dm)
		}
	}
	for j := 0; j < dm; j++ {
		var mean float64
		for _, x := range wu[j] {
			mean += x
		}
		for tk := range wu[j] {
			wu[j][tk] -= mean / float64(v)
		}
	}
	s := d.sources[2].SAE
	const f = 1234
	logits := make([]float64, v)
	for tk := 0; tk < v; tk++ {
		for j := 0; j < dm; j++ {
			logits[tk] += float64(s.WDec[f*dm+j]) * wu[j][tk]
		}
	}
	order := make([]int, v)
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(logits[b], logits[a]) })

	wuP := processedUnembedPacked(m)
	var got logitResult
	logitEffects(s.WDec[f*dm:(f+1)*dm], 1, dm, wuP, func(_ int, r logitResult) { got = r })
	for i := 0; i < logitRows; i++ {
		if got.posIdx[i] != order[i] || !relClose(got.posVal[i], logits[order[i]]) {
			t.Errorf("top %d: token %d (%v), want %d (%v)", i, got.posIdx[i], got.posVal[i], order[i], logits[order[i]])
		}
		w := order[v-1-i]
		if got.negIdx[i] != w || !relClose(got.negVal[i], logits[w]) {
			t.Errorf("bottom %d: token %d (%v), want %d (%v)", i, got.negIdx[i], got.negVal[i], w, logits[w])
		}
	}
	var hsum float64
	for _, h := range got.histH {
		hsum += h
	}
	lo, hi := logits[order[v-1]], logits[order[0]]
	if int(hsum) != v || !relClose(got.histV[0], lo+(hi-lo)/100) || !relClose(got.histV[histBins-1], hi-(hi-lo)/100) {
		t.Errorf("logit histogram: sum %v, first centre %v, last %v; range [%v, %v]", hsum, got.histV[0], got.histV[histBins-1], lo, hi)
	}
}

// TestNeighbours checks one feature's decoder neighbours by brute force.
func TestNeighbours(t *testing.T) {
	d := loadDemo(t)
	s := d.sources[0].SAE
	dm, n := s.Cfg.DIn, s.Cfg.DSAE
	const f = 77
	norm := func(i int) float64 {
		var x float64
		for _, w := range s.WDec[i*dm : (i+1)*dm] {
			x += float64(w) * float64(w)
		}
		return math.Sqrt(x)
	}
	cos := make([]float64, n)
	for i := range cos {
		var dot float64
		for j := 0; j < dm; j++ {
			dot += float64(s.WDec[f*dm+j]) * float64(s.WDec[i*dm+j])
		}
		cos[i] = dot / norm(f) / norm(i)
	}
	order := make([]int, 0, n-1)
	for i := 0; i < n; i++ {
		if i != f {
			order = append(order, i)
		}
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(cos[b], cos[a]) })
	var gotIdx []int
	var gotVal []float64
	neighbours(s.WDec, n, dm, func(i int, idx []int, val []float64) {
		if i == f {
			gotIdx, gotVal = idx, val
		}
	})
	if len(gotIdx) != neighbourCount || gotIdx[0] != f || math.Abs(gotVal[0]-1) > 1e-5 {
		t.Fatalf("neighbours of %d: %v %v", f, gotIdx, gotVal)
	}
	for r := 1; r < neighbourCount; r++ {
		if gotIdx[r] != order[r-1] || math.Abs(gotVal[r]-cos[order[r-1]]) > 1e-5 {
			t.Errorf("neighbour %d: %d (%v), want %d (%v)", r, gotIdx[r], gotVal[r], order[r-1], cos[order[r-1]])
		}
	}
}
