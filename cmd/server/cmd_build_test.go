package main

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"saex/internal/features"
	"saex/internal/inference"
	"saex/internal/store/storetest"
)

const demoRoot = "../../demo/demo-gpt2-4l"

func TestBuildCommand(t *testing.T) {
	url := storetest.NewURL(t)
	work := t.TempDir()
	args := []string{"build", "--model", demoRoot + "/model", "--sae", demoRoot + "/saes/blocks.2.hook_resid_pre",
		"--corpus", demoRoot + "/corpus/eval.jsonl.gz", "--contexts", "16", "--chunk", "8",
		"--database-url", url, "--work-dir", work}
	out, err := runCLI(t, args...)
	if err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	if !strings.Contains(out, "dashboards built") || !strings.Contains(out, "tokens_per_s=") {
		t.Errorf("no summary line:\n%s", out)
	}
	ctx := context.Background()
	sdb, cleanup, err := openDatabase(ctx, &Env{Stderr: io.Discard, Getenv: func(string) string { return "" }}, dbConfig{DatabaseURL: url})
	if err != nil {
		t.Fatal(err)
	}
	defer cleanup()
	// The build refreshed the rank marks of the source it wrote.
	checkRankMarks(t, sdb, "demo-gpt2-4l", "2-res-topk")
	// Ids come from the directories: model demo-gpt2-4l, source {layer}-res-topk.
	src, err := sdb.GetSource(ctx, "demo-gpt2-4l", "2-res-topk")
	if err != nil {
		t.Fatal(err)
	}
	if src.Build == nil || src.Build.State != features.BuildDone || src.HookName != "blocks.2.hook_resid_pre" || src.NumFeatures != 4096 {
		t.Errorf("source after build: %+v (build %+v)", src, src.Build)
	}
	st, err := sdb.SourceStats(ctx, "demo-gpt2-4l", "2-res-topk")
	if err != nil || st.NumFeatures != 4096 {
		t.Errorf("stats: %+v, %v", st, err)
	}
	f, err := sdb.GetFeature(ctx, features.FeatureKey{ModelID: "demo-gpt2-4l", SourceID: "2-res-topk", Index: 5}, features.FeatureOptions{})
	if err != nil || len(f.PosStr) != 10 || len(f.TopkCosSimIndices) != 11 {
		t.Errorf("feature 5: %+v, %v", f, err)
	}
	// A rerun finds everything written.
	out, err = runCLI(t, args...)
	if err != nil || !strings.Contains(out, "already built") {
		t.Errorf("rerun: %v\n%s", err, out)
	}
	if m, _ := filepath.Glob(filepath.Join(work, "demo-gpt2-4l", "*", "chunk-*")); len(m) != 0 {
		t.Errorf("spill left behind: %v", m)
	}
}

func TestBuildCommandErrors(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"build", "--sae", "x", "--corpus", "y"}, "--model is required"},
		{[]string{"build", "--model", demoRoot + "/model", "--corpus", "y"}, "at least one --sae"},
		{[]string{"build", "--model", demoRoot + "/model", "--sae", "x"}, "--corpus is required"},
		{[]string{"build", "--model", demoRoot + "/model", "--sae", "x", "--corpus", "no-such-file"}, "no-such-file"},
		{[]string{"build", "--model", demoRoot + "/model", "--sae", "no-such-sae", "--corpus", demoRoot + "/corpus/eval.jsonl.gz"}, "no-such-sae"},
		{[]string{"build", "--model", demoRoot + "/model", "--sae", demoRoot + "/saes/blocks.1.hook_resid_pre",
			"--sae", demoRoot + "/saes/blocks.1.hook_resid_pre", "--corpus", demoRoot + "/corpus/eval.jsonl.gz"}, "both be source 1-res-topk"},
		{[]string{"build", "--model", demoRoot + "/model", "--sae", demoRoot + "/saes/blocks.1.hook_resid_pre",
			"--corpus", demoRoot + "/corpus/eval.jsonl.gz", "--model-id", "a/b"}, "model id"},
		{[]string{"build", "--model", demoRoot + "/model", "--sae", "x", "--corpus", "y", "--contexts", "-1"}, "--contexts -1"},
	} {
		out, err := runCLI(t, c.args...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: error %v, want one mentioning %q\n%s", c.args[1:], err, c.want, out)
		}
	}
}

// TestSeedDemo runs serve's demo seeding against a fresh database with a
// capped corpus: the model and its three sources are registered at once,
// the dashboards are built in the background, and a second start finds
// them done.
func TestSeedDemo(t *testing.T) {
	db := storetest.NewDB(t)
	prev := demoMaxContexts
	demoMaxContexts = 8
	defer func() { demoMaxContexts = prev }()
	ctx := context.Background()
	deps := func() *serveDeps {
		return &serveDeps{DB: db, Log: slog.New(slog.DiscardHandler), Env: &Env{}, Background: &sync.WaitGroup{},
			Engine: inference.NewEngine(nil, 0), DataDir: t.TempDir(), Demo: &demoConfig{Dir: "../../demo"}}
	}
	d := deps()
	if err := seedDemo(ctx, d); err != nil {
		t.Fatal(err)
	}
	srcs, err := db.ListSources(ctx, demoModelID)
	if err != nil || len(srcs) != 3 {
		t.Fatalf("sources right after seeding: %d, %v", len(srcs), err)
	}
	if !d.Engine.CanRun(demoModelID, "3-res-topk") {
		t.Error("the engine cannot run the demo")
	}
	d.Background.Wait()
	for _, id := range []string{"1-res-topk", "2-res-topk", "3-res-topk"} {
		s, err := db.GetSource(ctx, demoModelID, id)
		if err != nil {
			t.Fatal(err)
		}
		if s.Build == nil || s.Build.State != features.BuildDone || s.Build.FeaturesDone != 4096 || s.NumPrompts == nil || *s.NumPrompts != 8 {
			t.Errorf("%s: build %+v, prompts %v", id, s.Build, s.NumPrompts)
		}
	}
	d = deps()
	if err := seedDemo(ctx, d); err != nil {
		t.Fatal(err)
	}
	d.Background.Wait()
	if s, _ := db.GetSource(ctx, demoModelID, "1-res-topk"); s.Build == nil || s.Build.State != features.BuildDone {
		t.Errorf("second start: %+v", s.Build)
	}

	// --no-demo and a missing folder leave the engine empty and serve up.
	d = deps()
	d.Demo.Skip = true
	if err := seedDemo(ctx, d); err != nil || len(d.Engine.ModelIDs()) != 0 {
		t.Errorf("--no-demo: %v, models %v", err, d.Engine.ModelIDs())
	}
	d = deps()
	d.Demo.Dir = t.TempDir()
	if err := seedDemo(ctx, d); err != nil || len(d.Engine.ModelIDs()) != 0 {
		t.Errorf("missing demo: %v, models %v", err, d.Engine.ModelIDs())
	}
}
