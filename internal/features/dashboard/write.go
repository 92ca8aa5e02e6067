package dashboard

import (
	"context"
	"fmt"
	"slices"
	"time"

	"saex/internal/compute/kernel"
	"saex/internal/features"
)

// sourceExtras are the corpus-independent parts of a source's dashboards.
type sourceExtras struct {
	logits []logitResult
	nIdx   [][]int
	nVal   [][]float64
}

// extras computes the logit tables and decoder neighbours of one source.
func (b *builder) extras(si int, wu *kernel.Packed) *sourceExtras {
	s := b.o.Sources[si].SAE
	d, dsae := s.Cfg.DIn, s.Cfg.DSAE
	x := &sourceExtras{logits: make([]logitResult, dsae), nIdx: make([][]int, dsae), nVal: make([][]float64, dsae)}
	if wu != nil {
		logitEffects(s.WDec, dsae, d, wu, func(f int, r logitResult) { x.logits[f] = r })
	}
	neighbours(s.WDec, dsae, d, func(f int, idx []int, val []float64) { x.nIdx[f], x.nVal[f] = idx, val })
	return x
}

// logitsApply reports whether a source's decoder writes to the residual
// stream, where W_U reads (hooks of other widths have no logit table).
func (b *builder) logitsApply(si int) bool {
	return b.o.Sources[si].SAE.Cfg.DIn == b.o.Model.Cfg.NEmbd && isResidual(b.o.Sources[si].SAE.Cfg.HookName)
}

// write assembles and stores the pending batches, one transaction and
// checkpoint each; assembly of the next batch overlaps the current write.
func (b *builder) write(ctx context.Context, todo []batchUnit) error {
	o := b.o
	t := time.Now()
	var wu *kernel.Packed
	for si := range o.Sources {
		if b.on(si) && b.logitsApply(si) {
			wu = processedUnembedPacked(o.Model)
			break
		}
	}
	extras := make([]*sourceExtras, len(o.Sources))
	for _, u := range todo {
		if extras[u.src] == nil {
			var w *kernel.Packed
			if b.logitsApply(u.src) {
				w = wu
			}
			extras[u.src] = b.extras(u.src, w)
		}
	}
	b.res.Timing.LogitsNeighbours = time.Since(t)

	done := make([]int, len(o.Sources))
	for si, s := range o.Sources {
		done[si] = s.SAE.Cfg.DSAE
	}
	for _, u := range todo {
		done[u.src] -= u.last - u.first + 1
	}

	type built struct {
		u     batchUnit
		batch *features.FeatureBatch
		err   error
	}
	ch := make(chan built, 2)
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		defer close(ch)
		for _, u := range todo {
			fb, err := b.assemble(u, extras[u.src])
			select {
			case ch <- built{u: u, batch: fb, err: err}:
			case <-wctx.Done():
				return
			}
			if err != nil {
				return
			}
		}
	}()
	t = time.Now()
	written := 0
	for bt := range ch {
		if bt.err != nil {
			return bt.err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if o.stopAfterBatches > 0 && written >= o.stopAfterBatches {
			return fmt.Errorf("build: stopped after %d batches (test)", written)
		}
		if err := o.Writer.WriteFeatures(ctx, bt.batch); err != nil {
			return fmt.Errorf("build: write %s features %d-%d: %w", o.Sources[bt.u.src].ID, bt.u.first, bt.u.last, err)
		}
		written++
		n := bt.u.last - bt.u.first + 1
		b.res.Features += n
		done[bt.u.src] += n
		b.prog.Phase = features.BuildPhaseWrite
		b.prog.FeaturesDone += n
		b.progress(b.prog, false)
		s := o.Sources[bt.u.src]
		state := features.BuildRunning
		if done[bt.u.src] == s.SAE.Cfg.DSAE {
			state = features.BuildDone
		}
		b.status(s.ID, state, done[bt.u.src], s.SAE.Cfg.DSAE, b.res.Contexts, b.res.Contexts, "")
	}
	b.res.Timing.Write = time.Since(t)
	for si, s := range o.Sources {
		if b.on(si) && done[si] == s.SAE.Cfg.DSAE {
			b.status(s.ID, features.BuildDone, done[si], s.SAE.Cfg.DSAE, b.res.Contexts, b.res.Contexts, "")
		}
	}
	return ctx.Err()
}

func isResidual(hook string) bool {
	for _, s := range []string{"hook_resid_pre", "hook_resid_mid", "hook_resid_post", "hook_attn_out", "hook_mlp_out", "hook_embed", "hook_pos_embed"} {
		if len(hook) >= len(s) && hook[len(hook)-len(s):] == s {
			return true
		}
	}
	return false
}

// assemble builds one batch's features with their examples.
func (b *builder) assemble(u batchUnit, x *sourceExtras) (*features.FeatureBatch, error) {
	o := b.o
	src := o.Sources[u.src]
	p1, p2 := b.p1[u.src], b.p2[u.src]

	// Read the contexts of every example in the batch once.
	var need []int32
	for f := u.first; f <= u.last; f++ {
		for _, e := range p1.topOf(f) {
			need = append(need, e.ctx)
		}
		for _, s := range p2.res[f*intervalBins*perInterval : (f+1)*intervalBins*perInterval] {
			if s.vals != nil {
				need = append(need, s.ctx)
			}
		}
	}
	slices.Sort(need)
	need = slices.Compact(need)
	// Examples from one context share its display tokens (read-only).
	toks := make(map[int32][]string, len(need))
	for i := 0; i < len(need); {
		// Read runs of nearby contexts in one call.
		j := i + 1
		for j < len(need) && need[j]-need[i] < 64 {
			j++
		}
		cs, err := b.ctxs.read(int(need[i]), int(need[j-1]-need[i])+1)
		if err != nil {
			return nil, fmt.Errorf("build: %w", err)
		}
		for _, c := range need[i:j] {
			ids := cs[c-need[i]]
			disp := make([]string, len(ids))
			for k, id := range ids {
				disp[k] = b.display[id]
			}
			toks[c] = disp
		}
		i = j
	}

	fb := &features.FeatureBatch{ModelID: o.ModelID, SourceID: src.ID, ReplaceExamples: true,
		Checkpoint: ptr(b.checkpoint(u))}
	for f := u.first; f <= u.last; f++ {
		fb.Features = append(fb.Features, b.feature(u.src, f, x, toks))
	}
	return fb, nil
}

func ptr[T any](v T) *T { return &v }

// feature assembles one feature's dashboard.
func (b *builder) feature(si, f int, x *sourceExtras, toks map[int32][]string) *features.Feature {
	o := b.o
	src := o.Sources[si]
	p1, p2 := b.p1[si], b.p2[si]
	ft := &features.Feature{ModelID: o.ModelID, SourceID: src.ID, Index: f, SourceSetName: src.SetName,
		CreatorID: CreatorID, TopkCosSimIndices: x.nIdx[f], TopkCosSimValues: x.nVal[f]}
	if lr := x.logits[f]; lr.histH != nil {
		ft.PosValues, ft.NegValues = lr.posVal, lr.negVal
		for _, t := range lr.posIdx {
			ft.PosStr = append(ft.PosStr, b.display[t])
		}
		for _, t := range lr.negIdx {
			ft.NegStr = append(ft.NegStr, b.display[t])
		}
		ft.LogitsHistHeights, ft.LogitsHistValues = lr.histH, lr.histV
	}
	count := p1.count[f]
	if count == 0 || b.counted == 0 {
		return ft // dead in this corpus: no examples, no histogram
	}
	mx := p1.max[f]
	ft.MaxActApprox = float64(mx)
	ft.FracNonzero = float64(count) / float64(b.counted)
	lo, hi := histRange(float64(p1.min[f]), float64(mx))
	ft.FreqHistHeights = make([]float64, histBins)
	for i, h := range p2.hist[f*histBins : (f+1)*histBins] {
		ft.FreqHistHeights[i] = float64(h)
	}
	ft.FreqHistValues = histCentres(lo, hi)

	key := fmt.Sprintf("%s/%s/%d", o.ModelID, src.ID, f)
	for r, e := range p1.topOf(f) {
		a := b.example(toks[e.ctx], e.ctx, int(e.pos), p2.topVals[f*p1.k+r])
		a.ID = fmt.Sprintf("%s/top-%02d", key, r)
		a.BinMin, a.BinMax, a.BinContains = ptr(float64(features.TopBin)), ptr(float64(mx)), ptr(float64(features.TopBin))
		ft.Activations = append(ft.Activations, a)
	}
	for bin := intervalBins - 1; bin >= 0; bin-- {
		n := p2.binCount[f*intervalBins+bin]
		for s := 0; s < perInterval && int64(s) < n; s++ {
			smp := p2.res[(f*intervalBins+bin)*perInterval+s]
			a := b.example(toks[smp.ctx], smp.ctx, int(smp.pos), smp.vals)
			a.ID = fmt.Sprintf("%s/bin-%d-%d", key, bin, s)
			a.BinMin = ptr(intervalEdge(mx, bin))
			a.BinMax = ptr(intervalEdge(mx, bin+1))
			a.BinContains = ptr(float64(n) / float64(count))
			ft.Activations = append(ft.Activations, a)
		}
	}
	if e := autoExplanation(key+"/auto", ft); e != nil {
		ft.Explanations = []*features.Explanation{e}
	}
	return ft
}

// example builds one example over a whole context.
func (b *builder) example(ctxTokens []string, ctx int32, qual int, vals []posVal) *features.Activation {
	a := &features.Activation{ModelID: b.o.ModelID, Tokens: ctxTokens, Values: make([]float32, len(ctxTokens)),
		QualifyingTokenIndex: ptr(qual), DataIndex: ptr(itoa(int(ctx))), CreatorID: CreatorID}
	if b.o.Dataset != "" {
		a.DataSource = ptr(b.o.Dataset)
	}
	for _, pv := range vals {
		if int(pv.pos) < len(a.Values) {
			a.Values[pv.pos] = pv.val
		}
	}
	mx, mn, arg := a.Values[0], a.Values[0], 0
	for i, v := range a.Values {
		if v > mx {
			mx, arg = v, i
		}
		mn = min(mn, v)
	}
	a.MaxValue, a.MinValue, a.MaxValueTokenIndex = float64(mx), float64(mn), arg
	return a
}
