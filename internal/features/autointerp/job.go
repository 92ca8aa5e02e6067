package autointerp

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"golang.org/x/sync/errgroup"

	"saex/internal/features"
)

// JobOptions says what a job explains.
type JobOptions struct {
	ModelID  string
	SourceID string
	// Indexes to explain, in order; nil means every feature of the source.
	Indexes []int
	Scorers []string // stored type names (ScorerName)
	// Concurrency is how many features are in flight at once (default 4).
	Concurrency int
	// BudgetTokens stops the job from starting new features once this many
	// tokens (prompt + completion) are spent; 0 means no cap. Features in
	// flight finish, so the overshoot is at most Concurrency features.
	BudgetTokens int64
	// Progress, when set, is called after each feature (done of total).
	Progress func(done, total int)
	// Snapshot, when set, is called after each feature with a copy of the
	// summary so far and the number of features done, under the job's lock
	// (keep it short: the runner copies it for its next progress write).
	Snapshot func(s Summary, done int)
}

// Failure is a feature that failed, with the reason.
type Failure struct {
	Index  int    `json:"index"`
	Reason string `json:"reason"`
}

// Summary is what a job did.
type Summary struct {
	Job              string    `json:"job"`
	Total            int       `json:"total"`
	Explained        int       `json:"explained"`
	AlreadyDone      int       `json:"alreadyDone"`
	Dead             int       `json:"dead"`
	Scored           int       `json:"scored"`
	Failed           []Failure `json:"failed"`
	ScoreFailed      []Failure `json:"scoreFailed"`
	NotStarted       int       `json:"notStarted"`
	BudgetExhausted  bool      `json:"budgetExhausted"`
	PromptTokens     int64     `json:"promptTokens"`
	CompletionTokens int64     `json:"completionTokens"`
}

// MaxEndpointFailures is how many features in a row may fail on the
// endpoint (after the client's retries) before a job stops: with the
// endpoint down or the key wrong, going on would only take hours to fail
// every feature.
const MaxEndpointFailures = 8

// JobName is the checkpoint job of explaining a source with a model and
// the current prompt.
func (p *Pipeline) JobName(o JobOptions) string {
	return "explain:" + o.ModelID + "/" + o.SourceID + "/" + p.Explainer.Model + "/" + PromptVersion
}

// jobHash changes when the scorers or their model change, so a rerun with
// other scorers redoes the features (replacing, not duplicating, rows).
func (p *Pipeline) jobHash(o JobOptions) string {
	h := PromptVersion
	if len(o.Scorers) > 0 {
		h += "|" + ScorePromptVersion + "|" + strings.Join(o.Scorers, ",")
		if p.Scorer != nil {
			h += "|" + p.Scorer.Model
		}
		if p.Embedding != nil {
			h += "|" + p.Embedding.Model
		}
	}
	return h
}

// RunJob explains (and scores) the features of a source. Each feature is
// written with its checkpoint in one transaction, so a job killed at any
// point and started again skips exactly the features already written:
// none is stored twice and none is skipped. Failed features are not
// checkpointed; a rerun tries them again.
func (p *Pipeline) RunJob(ctx context.Context, o JobOptions) (*Summary, error) {
	if p.Explainer == nil || p.Explainer.LLM == nil {
		return nil, features.Errorf(features.EUNAVAILABLE, "no LLM configured")
	}
	src, err := p.Store.GetSource(ctx, o.ModelID, o.SourceID)
	if err != nil {
		return nil, err
	}
	idx := o.Indexes
	if idx == nil {
		idx = make([]int, src.NumFeatures)
		for i := range idx {
			idx[i] = i
		}
	}
	for _, typ := range o.Scorers {
		if err := p.canScore(typ); err != nil {
			return nil, err
		}
	}
	conc := o.Concurrency
	if conc <= 0 {
		conc = 4
	}
	sum := &Summary{Job: p.JobName(o), Total: len(idx)}
	hash := p.jobHash(o)
	var (
		mu    sync.Mutex
		spent atomic.Int64
		inRow atomic.Int32 // features failed on the endpoint in a row
		done  int
	)
	finish := func(f func()) {
		mu.Lock()
		defer mu.Unlock()
		if f != nil {
			f()
		}
		done++
		if o.Progress != nil {
			o.Progress(done, len(idx))
		}
		if o.Snapshot != nil {
			c := *sum
			c.Failed, c.ScoreFailed = slices.Clone(sum.Failed), slices.Clone(sum.ScoreFailed)
			o.Snapshot(c, done)
		}
	}
	g, gctx := errgroup.WithContext(ctx)
	// A slot is taken before the budget is checked, so the check sees the
	// tokens of every feature that finished before it.
	slots := make(chan struct{}, conc)
	started := 0
	var doneErr error
	for _, i := range idx {
		select {
		case slots <- struct{}{}:
		case <-gctx.Done():
		}
		if gctx.Err() != nil {
			break
		}
		if o.BudgetTokens > 0 && spent.Load() >= o.BudgetTokens {
			sum.BudgetExhausted = true
			break
		}
		cp := features.Checkpoint{Job: sum.Job, Unit: "feature-" + strconv.Itoa(i), Hash: hash}
		ok, err := p.Store.Done(gctx, cp)
		if err != nil {
			doneErr = err
			break
		}
		started++
		if ok {
			<-slots
			finish(func() { sum.AlreadyDone++ })
			continue
		}
		g.Go(func() error {
			defer func() { <-slots }()
			key := features.FeatureKey{ModelID: o.ModelID, SourceID: o.SourceID, Index: i}
			res, err := p.Explain(gctx, key, o.Scorers, sum.Job)
			if res != nil {
				spent.Add(int64(res.Usage.Total()))
				mu.Lock()
				sum.PromptTokens += int64(res.Usage.PromptTokens)
				sum.CompletionTokens += int64(res.Usage.CompletionTokens)
				mu.Unlock()
			}
			if err == nil {
				if res.Explanation == nil {
					err = p.Store.WriteAutoInterp(gctx, nil, nil, &cp)
				} else {
					err = p.Store.WriteAutoInterp(gctx, []*features.Explanation{res.Explanation}, []*features.ExplanationRun{res.Run}, &cp)
				}
			}
			if gctx.Err() != nil {
				return gctx.Err()
			}
			if err != nil {
				finish(func() { sum.Failed = append(sum.Failed, Failure{i, features.ErrorMessage(err)}) })
				if isFatal(err) {
					return err
				}
				if errors.Is(err, ErrEndpoint) {
					if n := inRow.Add(1); n >= MaxEndpointFailures {
						return features.Wrap(features.EUNAVAILABLE, err, "stopped: %d features in a row failed on the LLM endpoint; last: %s", n, features.ErrorMessage(err))
					}
				}
				return nil
			}
			inRow.Store(0)
			finish(func() {
				if res.Explanation == nil {
					sum.Dead++
					return
				}
				sum.Explained++
				if len(res.Explanation.Scores) > 0 {
					sum.Scored++
				}
				for typ, why := range res.ScoreErrors {
					sum.ScoreFailed = append(sum.ScoreFailed, Failure{i, typ + ": " + why})
				}
			})
			return nil
		})
	}
	err = g.Wait()
	if err == nil {
		err = doneErr
	}
	sum.NotStarted = len(idx) - started
	sort.Slice(sum.Failed, func(a, b int) bool { return sum.Failed[a].Index < sum.Failed[b].Index })
	sort.Slice(sum.ScoreFailed, func(a, b int) bool { return sum.ScoreFailed[a].Index < sum.ScoreFailed[b].Index })
	if err == nil {
		err = ctx.Err()
	}
	return sum, err
}

// isFatal reports errors that would fail every feature alike (the store is
// down): the job stops instead of burning the budget. Endpoint errors are
// per feature (the client already retried them).
func isFatal(err error) bool {
	var fe *features.Error
	if errors.As(err, &fe) {
		return fe.Code == features.EINTERNAL || (fe.Code == features.EUNAVAILABLE && strings.Contains(fe.Message, "database"))
	}
	return false
}

// ParseRange reads "0-999", "5", "1,3,10-12" into indexes.
func ParseRange(s string) ([]int, error) {
	var out []int
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(strings.TrimSpace(lo))
		if err != nil || a < 0 {
			return nil, fmt.Errorf("bad feature range %q: want N, N-M or a comma list", part)
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(strings.TrimSpace(hi)); err != nil || b < a {
				return nil, fmt.Errorf("bad feature range %q: want N-M with M >= N", part)
			}
		}
		if b-a > 10_000_000 {
			return nil, fmt.Errorf("feature range %q is too large", part)
		}
		for i := a; i <= b; i++ {
			out = append(out, i)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("empty feature range")
	}
	return out, nil
}
