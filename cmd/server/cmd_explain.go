package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/cheggaaa/pb/v3"
	"github.com/mattn/go-isatty"

	"saex/internal/features"
	"saex/internal/features/autointerp"
	"saex/internal/jobs"
	"saex/internal/llm"
	"saex/internal/store"
)

func init() {
	register("explain", "explain (and score) a source's features with an OpenAI-compatible LLM; resumable, budget-capped", runExplain)
}

func runExplain(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "explain")
	model := fs.String("model", "", "saex model id, e.g. demo-gpt2-4l")
	source := fs.String("source", "", "source id, e.g. 1-res-topk; a comma list, or all for every source of the model (one after another)")
	feats := fs.String("features", "", "feature indexes: N, N-M or a comma list (default: all)")
	scorers := fs.String("scorers", "", "scorers to run after explaining: detection, fuzzing, embedding (comma-separated; embedding needs --embed-model)")
	concurrency := fs.Int("concurrency", 4, "features in flight at once")
	budget := fs.Int64("budget-tokens", 0, "stop starting features once this many prompt+completion tokens are spent (0: no cap; with --enqueue: per source)")
	enqueue := fs.Bool("enqueue", false, "record the job and queue it for `saex worker --queues explain` instead of running it here (prints the job ids)")
	wait := fs.Bool("wait", false, "with --enqueue: show the queued jobs' progress until they end")
	var lc llmConfig
	addLLMFlags(fs, &lc)
	cfg := dbConfig{Migrate: true}
	addDBFlags(fs, env, &cfg)
	if err := fs.Parse(args); err != nil {
		return err
	}
	lc.withEnv(env)
	if *model == "" || *source == "" {
		return fmt.Errorf("explain: --model and --source are required")
	}
	opts := autointerp.JobOptions{ModelID: *model, SourceID: *source, Concurrency: *concurrency, BudgetTokens: *budget}
	var err error
	if *feats != "" {
		if opts.Indexes, err = autointerp.ParseRange(*feats); err != nil {
			return fmt.Errorf("explain: --features: %w", err)
		}
	}
	if opts.Scorers, err = autointerp.ParseScorers(*scorers); err != nil {
		return fmt.Errorf("explain: --scorers: %w", err)
	}
	if *concurrency < 1 || *budget < 0 {
		return fmt.Errorf("explain: --concurrency must be at least 1 and --budget-tokens not negative")
	}
	if *wait && !*enqueue {
		return fmt.Errorf("explain: --wait goes with --enqueue")
	}
	if *enqueue && flagSet(fs, "concurrency") {
		return fmt.Errorf("explain: --concurrency does not go with --enqueue: the worker sets it (saex worker --explain-features)")
	}
	// Check the endpoint settings before touching the database.
	if _, err := llm.New(llm.Config{BaseURL: lc.BaseURL, Model: lc.Model}); err != nil {
		return fmt.Errorf("explain: %w", err)
	}
	db, cleanup, err := openDatabase(ctx, env, cfg)
	if err != nil {
		return err
	}
	defer cleanup()
	p, err := lc.pipeline(db)
	if err != nil {
		return fmt.Errorf("explain: %w", err)
	}
	sources, err := explainSources(ctx, db, *model, *source)
	if err != nil {
		return fmt.Errorf("explain: --source: %w", err)
	}
	log := env.Logger()
	if *enqueue {
		return enqueueExplain(ctx, env, db, p, sources, features.AutoInterpJobRequest{ModelID: *model, Features: *feats,
			Scorers: opts.Scorers, BudgetTokens: *budget, StartedBy: "cli"}, *wait)
	}
	// With an embedding model configured, what this run writes is embedded
	// as serve embeds it, so semantic search finds it without a separate
	// embed-explanations run.
	svc, err := lc.semanticSearch(db, log)
	if err != nil {
		return fmt.Errorf("explain: %w", err)
	}
	var embed *embedOnWrite
	if svc != nil {
		embed = embedWrites(p, svc)
		defer func() {
			if n := embed.Missed(); n > 0 {
				log.Warn(fmt.Sprintf("explain: %d new explanations were stored without an embedding (the embeddings endpoint failed or the run was stopped); "+
					"run `saex embed-explanations` to embed them for semantic search", n), "unembedded", n, "embed_model", lc.EmbedModel)
			}
		}()
	}
	// One source after another, one summary each; the budget is shared.
	var spent int64
	for _, src := range sources {
		o := opts
		o.SourceID = src
		if opts.BudgetTokens > 0 {
			if o.BudgetTokens = opts.BudgetTokens - spent; o.BudgetTokens <= 0 {
				log.Info("explain: the token budget is spent", "skipped_source", src)
				continue
			}
		}
		log.Info("explain", "model", *model, "source", src, "endpoint", llm.Redacted(lc.BaseURL), "explainer", p.Explainer.Model,
			"scorers", o.Scorers, "concurrency", o.Concurrency, "budget_tokens", o.BudgetTokens)
		stop := explainProgress(ctx, env.Stderr, &o)
		start := time.Now()
		var missedBefore int64
		if embed != nil {
			missedBefore = embed.Missed()
		}
		sum, runErr := p.RunJob(ctx, o)
		stop()
		if sum != nil {
			spent += sum.PromptTokens + sum.CompletionTokens
			attrs := []any{"source", src, "explained", sum.Explained, "already_done", sum.AlreadyDone, "dead", sum.Dead,
				"scored", sum.Scored, "failed", len(sum.Failed), "not_started", sum.NotStarted, "budget_exhausted", sum.BudgetExhausted,
				"tokens", sum.PromptTokens + sum.CompletionTokens, "took", time.Since(start).Round(time.Millisecond)}
			if embed != nil {
				attrs = append(attrs, "unembedded", embed.Missed()-missedBefore)
			}
			log.Info("explain done", attrs...)
			enc := json.NewEncoder(env.Stdout)
			enc.SetIndent("", "  ")
			if err := enc.Encode(sum); err != nil {
				return err
			}
		}
		if runErr != nil {
			return fmt.Errorf("explain %s: %w (rerun the same command to resume)", src, runErr)
		}
	}
	return nil
}

// flagSet reports whether the command line set flag name.
func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// enqueueExplain records one queued job per source and prints each
// ({"job": id, ...}, one JSON line); with wait it shows their progress
// until they end and fails when one fails. The worker explains with its
// own LLM settings; p only checks the request here.
func enqueueExplain(ctx context.Context, env *Env, db *store.DB, p *autointerp.Pipeline, sources []string,
	req features.AutoInterpJobRequest, wait bool) error {
	log := env.Logger()
	check := &autointerp.Runner{Pipeline: p, Jobs: db}
	var ids []int64
	for _, src := range sources {
		r := req
		r.SourceID = src
		j, err := check.Prepare(ctx, r)
		if err != nil {
			return fmt.Errorf("explain %s: %w", src, err)
		}
		if err := jobs.EnqueueExplain(ctx, db.Pool, db, j); err != nil {
			return fmt.Errorf("explain %s: %w", src, err)
		}
		ids = append(ids, j.ID)
		log.Info("auto-interp job enqueued; `saex worker --queues explain` runs it", "job", j.ID, "model", j.ModelID,
			"source", src, "features", j.Total, "scorers", j.Scorers, "budget_tokens", j.BudgetTokens)
		fmt.Fprintf(env.Stdout, `{"job": %d, "model": %q, "source": %q, "total": %d}`+"\n", j.ID, j.ModelID, src, j.Total)
	}
	if !wait {
		return nil
	}
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	last := map[int64]int{}
	for _, id := range ids {
		for {
			j, err := db.AutoInterpJobByID(ctx, id)
			if err != nil {
				return err
			}
			if d, ok := last[id]; !ok || d != j.Done {
				last[id] = j.Done
				fmt.Fprintf(env.Stderr, "explain: job %d (%s): %d/%d features\n", id, j.SourceID, j.Done, j.Total)
			}
			if j.State == features.JobFailed {
				return fmt.Errorf("explain: job %d (%s) failed: %s", id, j.SourceID, j.Error)
			}
			if j.State == features.JobDone {
				log.Info("explain done", "job", id, "source", j.SourceID, "explained", j.Explained, "already_done", j.AlreadyDone,
					"dead", j.Dead, "scored", j.Scored, "failed", len(j.Failed), "not_started", j.NotStarted,
					"budget_exhausted", j.BudgetExhausted, "tokens", j.Tokens())
				break
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("stopped waiting; the workers carry on: %w", ctx.Err())
			case <-tick.C:
			}
		}
	}
	return nil
}

// explainSources reads --source: one id, a comma list, or "all" (every
// source of the model, in layer order).
func explainSources(ctx context.Context, db *store.DB, model, flag string) ([]string, error) {
	if strings.TrimSpace(flag) != "all" {
		var out []string
		for _, s := range strings.Split(flag, ",") {
			if s = strings.TrimSpace(s); s != "" {
				out = append(out, s)
			}
		}
		if len(out) == 0 {
			return nil, fmt.Errorf("no source named")
		}
		return out, nil
	}
	list, err := db.ListSources(ctx, model)
	if err != nil {
		return nil, err
	}
	if len(list) == 0 {
		return nil, fmt.Errorf("model %q has no sources", model)
	}
	out := make([]string, len(list))
	for i, s := range list {
		out[i] = s.ID
	}
	return out, nil
}

// explainProgress shows a bar on a terminal, or logs a line every 10 s.
func explainProgress(ctx context.Context, w io.Writer, o *autointerp.JobOptions) func() {
	var mu sync.Mutex
	done, total := 0, 0
	if f, ok := w.(*os.File); ok && isatty.IsTerminal(f.Fd()) {
		var bar *pb.ProgressBar
		o.Progress = func(d, t int) {
			mu.Lock()
			defer mu.Unlock()
			if bar == nil {
				bar = pb.New(t).SetWriter(w).SetRefreshRate(200 * time.Millisecond)
				bar.SetTemplateString(`{{counters . }} features {{bar . }} {{percent . }} {{rtime . "ETA %s"}}`)
				bar.Start()
			}
			bar.SetCurrent(int64(d))
		}
		return func() {
			mu.Lock()
			defer mu.Unlock()
			if bar != nil {
				bar.Finish()
			}
		}
	}
	o.Progress = func(d, t int) {
		mu.Lock()
		done, total = d, t
		mu.Unlock()
	}
	ctx, cancel := context.WithCancel(ctx)
	go func() {
		t := time.NewTicker(10 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				mu.Lock()
				fmt.Fprintf(w, "explain: %d/%d features\n", done, total)
				mu.Unlock()
			}
		}
	}()
	return cancel
}
