package webtest

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"saex/internal/features"
	"saex/internal/inference"
	"saex/internal/store"
	"saex/internal/testenv"
	"saex/internal/web"
)

// The demo model and its SAEs, as cmd/server serves them.
const (
	DemoModel = "demo-gpt2-4l"
	DemoWidth = 4096
)

// DemoSources are the demo's SAE sources; source i reads blocks.{i+1}.hook_resid_pre.
var DemoSources = []string{"1-res-topk", "2-res-topk", "3-res-topk"}

var (
	demoOnce   sync.Once
	demoLoaded *inference.Engine
	demoErr    error
)

// DemoEngine returns an engine holding the demo model and its three SAEs
// (loaded once per test binary, shared by every engine this returns) that
// runs prompts under sched (nil: a scheduler of its own) and keeps recent
// results as serve's does. Each server gets its own: a kept result or a
// taken compute slot never leaks from one test's server into another's.
func DemoEngine(tb testing.TB, sched *inference.Scheduler) *inference.Engine {
	tb.Helper()
	root := testenv.RepoRoot(tb)
	demoOnce.Do(func() {
		e := inference.NewEngine(nil, 0)
		dir := filepath.Join(root, "demo", DemoModel)
		if demoErr = e.AddModel(DemoModel, filepath.Join(dir, "model")); demoErr != nil {
			return
		}
		for i, id := range DemoSources {
			if demoErr = e.AddSource(DemoModel, id, filepath.Join(dir, "saes", fmt.Sprintf("blocks.%d.hook_resid_pre", i+1))); demoErr != nil {
				return
			}
		}
		demoLoaded = e
	})
	if demoErr != nil {
		tb.Fatalf("webtest: load the demo engine: %v", demoErr)
	}
	e := inference.NewEngine(sched, inference.DefaultPromptCacheSize)
	model, tok, _ := demoLoaded.Model(DemoModel)
	if err := e.AddLoadedModel(DemoModel, "demo", model, tok); err != nil {
		tb.Fatal(err)
	}
	for _, id := range DemoSources {
		s, _ := demoLoaded.SAE(DemoModel, id)
		if err := e.AddLoadedSource(DemoModel, id, s); err != nil {
			tb.Fatal(err)
		}
	}
	return e
}

// NewDemo starts a server with the demo engine over a fresh database seeded
// with the fixtures (New) and a demo catalog (SeedDemo).
func NewDemo(tb testing.TB, configure func(*web.Server)) *Env {
	tb.Helper()
	sched := inference.NewScheduler(0, 0)
	eng := DemoEngine(tb, sched)
	env := New(tb, func(s *web.Server) {
		s.Inference, s.Scheduler = eng, sched
		if configure != nil {
			configure(s)
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := SeedDemo(ctx, env.DB, eng, DemoPrompts); err != nil {
		tb.Fatalf("webtest: seed demo: %v", err)
	}
	return env
}

// DemoExplanation is the explanation SeedDemo gives feature i of a source.
func DemoExplanation(sourceID string, i int) string {
	return fmt.Sprintf("demo %s feature %d", sourceID, i)
}

// DemoPrompts are the prompts tests run through the demo: SeedDemo gives
// every feature they activate a dashboard row, so links from the prompt
// tool resolve.
var DemoPrompts = []string{
	"def main():\n    print('hello world')",
	"The quick brown fox jumps over the lazy dog.",
	"import os\nfor name in os.listdir('.'):\n    print(name)",
}

// SeedDemo writes the demo model, its three sources and a light dashboard
// row (max activation, density, one explanation, no examples) for features
// 0..99 of each source and every feature the prompts activate: enough for
// the prompt tool's rankings and links without the minutes a full build
// takes. Feature i has density (i%100)/1000, so features with i%100 >= 50
// are denser than 5%.
func SeedDemo(ctx context.Context, db *store.DB, eng features.Inference, prompts []string) error {
	if err := db.UpsertModel(ctx, &features.Model{
		ID: DemoModel, DisplayName: "Demo GPT-2 (4 layers)", DisplayNameShort: DemoModel, CreatorID: "webtest",
		Dimension: 256, Layers: 4, Visibility: "PUBLIC", Owner: "webtest", InferenceEnabled: true,
	}); err != nil {
		return err
	}
	if err := db.UpsertSourceSet(ctx, &features.SourceSet{
		ModelID: DemoModel, Name: "res-topk", Description: "TopK residual SAEs", Type: "sae", CreatorName: "webtest",
		CreatorID: "webtest", HasDashboards: true, Visibility: "PUBLIC", URLs: []string{},
	}); err != nil {
		return err
	}
	want := map[string]map[int]bool{}
	for _, src := range DemoSources {
		want[src] = map[int]bool{}
		for i := range 100 {
			want[src][i] = true
		}
	}
	for _, p := range prompts {
		res, err := eng.RunPrompt(ctx, DemoModel, DemoSources, p)
		if err != nil {
			return err
		}
		for _, sa := range res.Sources {
			for _, row := range sa.Rows {
				for _, idx := range row.Indices {
					want[sa.SourceID][int(idx)] = true
				}
			}
		}
	}
	created := time.Date(2026, 1, 3, 0, 0, 0, 0, time.UTC)
	for _, src := range DemoSources {
		if err := db.UpsertSource(ctx, &features.Source{
			ID: src, ModelID: DemoModel, SetName: "res-topk", CreatorID: "webtest", HasDashboards: true,
			InferenceEnabled: true, Visibility: "PUBLIC", NumFeatures: DemoWidth,
		}); err != nil {
			return err
		}
		fs := make([]*features.Feature, 0, len(want[src]))
		for i := range DemoWidth {
			if !want[src][i] {
				continue
			}
			fs = append(fs, &features.Feature{
				ModelID: DemoModel, SourceID: src, Index: i, CreatedAt: created,
				MaxActApprox: 10, FracNonzero: float64(i%100) / 1000,
				Explanations: []*features.Explanation{{
					Description: DemoExplanation(src, i), TypeName: "webtest", ExplanationModelName: "none",
					AuthorID: "webtest", CreatedAt: created, Scores: []*features.ExplanationScore{},
				}},
			})
		}
		if err := db.WriteFeatures(ctx, &features.FeatureBatch{ModelID: DemoModel, SourceID: src, Features: fs, ReplaceExamples: true}); err != nil {
			return err
		}
	}
	return nil
}
