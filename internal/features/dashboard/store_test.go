package dashboard

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"saex/internal/features"
	"saex/internal/store"
	"saex/internal/store/storetest"
)

// registerDemo writes the catalog rows the build's features hang from.
func registerDemo(t *testing.T, db *store.DB, d demoFixture, srcs []Source) {
	t.Helper()
	err := Register(context.Background(), db, Registration{ModelID: "demo-gpt2-4l", Model: d.model, Sources: srcs,
		NumPrompts: 40, ContextSize: 128, Dataset: "demo corpus (eval split)"})
	if err != nil {
		t.Fatal(err)
	}
}

// readAll returns every feature of a source as JSON with timestamps
// cleared, for comparing two databases.
func readAll(t *testing.T, db *store.DB, source string, n int) []string {
	t.Helper()
	out := make([]string, 0, n)
	for f0 := 0; f0 < n; f0 += 512 {
		var keys []features.FeatureKey
		for f := f0; f < min(f0+512, n); f++ {
			keys = append(keys, features.FeatureKey{ModelID: "demo-gpt2-4l", SourceID: source, Index: f})
		}
		fs, err := db.GetFeatures(context.Background(), keys, features.FeatureOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range fs {
			f.CreatedAt = time.Time{}
			for _, a := range f.Activations {
				a.CreatedAt = time.Time{}
			}
			for _, e := range f.Explanations {
				e.CreatedAt = time.Time{}
			}
			data, err := json.Marshal(f)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, string(data))
		}
	}
	if len(out) != n {
		t.Fatalf("%s: %d features stored, want %d", source, len(out), n)
	}
	return out
}

// TestBuildResume interrupts a build during pass 1 and again while
// writing, resumes it, and checks the dashboards are identical to those of
// an uninterrupted build.
func TestBuildResume(t *testing.T) {
	d := loadDemo(t)
	srcs := d.sources[:1]
	ctx := context.Background()
	opts := func(db *store.DB, work string) Options {
		return Options{ModelID: "demo-gpt2-4l", Model: d.model, Tokenizer: d.tok, ModelDir: demoDir + "/model",
			Sources: srcs, Corpus: demoCorpus, MaxContexts: 40, ChunkContexts: 8, BatchFeatures: 512,
			WorkDir: work, Writer: db, Dataset: "demo corpus (eval split)",
			Status: func(source string, st *features.BuildStatus) {
				if err := db.SetBuildStatus(ctx, "demo-gpt2-4l", source, st); err != nil {
					t.Errorf("status: %v", err)
				}
			}}
	}

	db := storetest.NewDB(t)
	registerDemo(t, db, d, srcs)
	work := t.TempDir()

	o := opts(db, work)
	o.stopAfterChunks = 2
	if _, err := Build(ctx, o); err == nil {
		t.Fatal("first run: want the test interruption")
	}
	chunks, _ := filepath.Glob(filepath.Join(work, "demo-gpt2-4l", "*", "chunk-*.bin"))
	if len(chunks) != 2 {
		t.Fatalf("after an interruption in pass 1: %d spill chunks, want 2", len(chunks))
	}

	o = opts(db, work)
	o.stopAfterBatches = 3
	res, err := Build(ctx, o)
	if err == nil {
		t.Fatal("second run: want the test interruption")
	}
	if res.Timing.ChunksFromSpill != 2 || res.Timing.ChunksComputed != 3 {
		t.Errorf("second run: %d chunks from the spill, %d computed; want 2 and 3", res.Timing.ChunksFromSpill, res.Timing.ChunksComputed)
	}
	src, err := db.GetSource(ctx, "demo-gpt2-4l", srcs[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if src.Build == nil || src.Build.State != features.BuildFailed || src.Build.FeaturesDone != 3*512 {
		t.Errorf("status after the interruption: %+v", src.Build)
	}

	res, err = Build(ctx, opts(db, work))
	if err != nil {
		t.Fatal(err)
	}
	if res.Timing.ChunksFromSpill != 5 || res.Timing.ChunksComputed != 0 || res.Timing.BatchesAlreadyStored != 3 || res.Features != 4096-3*512 {
		t.Errorf("third run: %+v, %d features", res.Timing, res.Features)
	}
	if _, err := os.Stat(res.SpillDir); !os.IsNotExist(err) {
		t.Errorf("spill %s left behind after success: %v", res.SpillDir, err)
	}
	src, _ = db.GetSource(ctx, "demo-gpt2-4l", srcs[0].ID)
	if src.Build == nil || src.Build.State != features.BuildDone || src.Build.FeaturesDone != 4096 || src.Build.ContextsDone != 40 {
		t.Errorf("status when done: %+v", src.Build)
	}
	if res, err := Build(ctx, opts(db, work)); err != nil || !res.UpToDate {
		t.Errorf("a fourth run should find everything written: %+v, %v", res, err)
	}

	ref := storetest.NewDB(t)
	registerDemo(t, ref, d, srcs)
	if _, err := Build(ctx, opts(ref, t.TempDir())); err != nil {
		t.Fatal(err)
	}
	got, want := readAll(t, db, srcs[0].ID, 4096), readAll(t, ref, srcs[0].ID, 4096)
	diffs := 0
	for i := range got {
		if got[i] != want[i] {
			if diffs < 3 {
				t.Errorf("feature %d differs between the resumed and the uninterrupted build:\n%.600s\n%.600s", i, got[i], want[i])
			}
			diffs++
		}
	}
	if diffs > 0 {
		t.Errorf("%d features differ", diffs)
	}
	// The stored dashboards carry examples (the corpus is big enough).
	var withExamples int
	for _, s := range got {
		var f features.Feature
		json.Unmarshal([]byte(s), &f)
		if len(f.Activations) > 0 {
			withExamples++
		}
	}
	if withExamples < 3000 {
		t.Errorf("only %d of 4096 features have examples", withExamples)
	}
}
