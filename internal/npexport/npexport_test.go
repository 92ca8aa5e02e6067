package npexport

import (
	"compress/gzip"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"saex/internal/features"
)

const fixtureSource = "../../testdata/neuronpedia-export/gemma-2-2b/20-gemmascope-res-131k"

func mustRead(t *testing.T, path string) *File {
	t.Helper()
	f, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func loadSource(t *testing.T, dir string) (*Meta, []*features.Feature) {
	t.Helper()
	meta, fs, err := LoadSource(dir)
	if err != nil {
		t.Fatal(err)
	}
	return meta, fs
}

func TestReadFixture(t *testing.T) {
	meta, fs := loadSource(t, fixtureSource)
	if meta.Model.ID != "gemma-2-2b" || meta.Source.ID != "20-gemmascope-res-131k" || meta.SourceSet.Name != "gemmascope-res-131k" {
		t.Fatalf("meta: %+v %+v", meta.Model, meta.Source)
	}
	if want := time.Date(2026, 11, 27, 22, 0, 0, 0, time.UTC); !meta.Model.CreatedAt.Equal(want) {
		t.Errorf("model createdAt %v", meta.Model.CreatedAt)
	}
	if len(fs) != 1 || fs[0].Index != 81408 || fs[0].MaxActApprox != 104 || len(fs[0].PosStr) != 10 {
		t.Fatalf("features: %+v", fs)
	}
	f := fs[0]
	if len(f.Activations) != 29 || len(f.Explanations) != 2 {
		t.Fatalf("%d activations, %d explanations", len(f.Activations), len(f.Explanations))
	}
	a := f.Activations[0]
	if a.MaxValue != 104 || a.MaxValueTokenIndex != 75 || a.Values[75] != 104 || len(a.Tokens) != 127 || *a.BinMin != -1 {
		t.Errorf("activation 0: %+v", a)
	}
	if f.Explanations[0].Description != "references to the Angular web framework" {
		t.Errorf("explanation %+v", f.Explanations[0])
	}
	if f.Vector != nil || f.TopkCosSimIndices != nil {
		t.Errorf("empty arrays should read as nil")
	}
}

func TestWriteReadRoundTrip(t *testing.T) {
	meta, fs := loadSource(t, fixtureSource)
	// extra cases the fixture lacks: NUL and odd tokens, scores, embeddings
	f := fs[0]
	f.Activations[0].Tokens[0] = "a\x00b"
	f.Activations[0].Tokens[1] = "\u2028<script>&"
	emb := make([]float32, features.EmbeddingDim)
	emb[3] = 0.25
	f.Explanations[0].Embedding = emb
	f.Explanations[0].Scores = []*features.ExplanationScore{{ID: "s1", ExplanationID: f.Explanations[0].ID, Value: 0.5,
		ExplanationScoreTypeName: "recall_alt", JSONDetails: `{"a":1}`, CreatedAt: time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC)}}
	out := t.TempDir()
	w, err := NewWriter(out, meta)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fs {
		if err := w.Add(f); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	meta2, fs2 := loadSource(t, w.Dir())
	if !reflect.DeepEqual(meta, meta2) {
		t.Errorf("meta differs:\n%+v\n%+v", meta.Source, meta2.Source)
	}
	if !reflect.DeepEqual(fs, fs2) {
		t.Errorf("features differ after write/read")
	}
	if _, err := os.Stat(filepath.Join(w.Dir(), "features", "batch-79.jsonl.gz")); err != nil {
		t.Error(err)
	}
}

func TestDashboardFixtures(t *testing.T) {
	created := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	d, err := ParseDashboard(mustRead(t, "../../testdata/saedashboard/gpt2-small-0-res-jb/batch-0.json"), created)
	if err != nil {
		t.Fatal(err)
	}
	if d.ModelID != "gpt2-small" || d.SourceID != "0-res-jb" || len(d.Features) != 2 || len(d.Features[0].Activations) != 38 {
		t.Fatalf("%s %s %d", d.ModelID, d.SourceID, len(d.Features))
	}
	g, err := ParseDashboard(mustRead(t, "../../testdata/saedashboard/gemma-2-2b-feature-81408.json"), created)
	if err != nil {
		t.Fatal(err)
	}
	if g.SourceID != "20-gemmascope-res-131k" || g.Features[0].Index != 81408 || g.Features[0].MaxActApprox != 104 {
		t.Fatalf("%s %d %v", g.SourceID, g.Features[0].Index, g.Features[0].MaxActApprox)
	}
	if *g.NumPrompts != 24576 || *g.Dataset != "monology/pile-uncopyrighted" {
		t.Errorf("run settings %v %v", *g.NumPrompts, *g.Dataset)
	}
}

func TestBadInput(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string, gz bool) string {
		p := filepath.Join(dir, name)
		f, _ := os.Create(p)
		if gz {
			zw := gzip.NewWriter(f)
			zw.Write([]byte(content))
			zw.Close()
		} else {
			f.WriteString(content)
		}
		f.Close()
		return p
	}
	good := `{"modelId":"m","layer":"0-x","index":"1","maxActApprox":1}`
	cases := []struct {
		name, content, want string
		parse               func(*File) error
	}{
		{"badjson.jsonl.gz", good + "\n{\"modelId\":", "badjson.jsonl.gz:2", nil},
		{"wrongtype.jsonl.gz", good + "\n" + `{"modelId":"m","layer":"0-x","index":"2","maxActApprox":"big"}`, "wrongtype.jsonl.gz:2: field maxActApprox", nil},
		{"badindex.jsonl.gz", `{"modelId":"m","layer":"0-x","index":"x"}`, "badindex.jsonl.gz:1", nil},
		{"other.jsonl.gz", `{"modelId":"m","layer":"1-y","index":"1"}`, "other.jsonl.gz:1: row of m@1-y:1", nil},
	}
	for _, c := range cases {
		p := write(c.name, c.content, true)
		_, _, err := ParseFeatures(mustRead(t, p), "m", "0-x")
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", c.name, err, c.want)
		}
	}
	// activation with mismatched lengths
	p := write("acts.jsonl.gz", `{"modelId":"m","layer":"0-x","index":"1","tokens":["a","b"],"values":[1]}`, true)
	if _, _, err := ParseActivations(mustRead(t, p), "m", "0-x"); err == nil || !strings.Contains(err.Error(), "acts.jsonl.gz:1") {
		t.Errorf("acts: %v", err)
	}
	// truncated gzip
	full := write("trunc.jsonl.gz", strings.Repeat(good+"\n", 200), true)
	raw, _ := os.ReadFile(full)
	os.WriteFile(full, raw[:len(raw)/2], 0o644)
	if _, err := ReadFile(full); err == nil || !strings.Contains(err.Error(), "trunc.jsonl.gz") || !strings.Contains(err.Error(), "gzip") {
		t.Errorf("truncated: %v", err)
	}
	// SAEDashboard: wrong type and line number
	p = write("batch-0.json", "{\n\"model_id\": \"m\",\n\"layer\": 3,\n\"sae_set\": \"x\",\n\"features\": [{\"feature_index\": \"one\"}]}", false)
	if _, err := ParseDashboard(mustRead(t, p), time.Now()); err == nil || !strings.Contains(err.Error(), "batch-0.json:5") {
		t.Errorf("dashboard: %v", err)
	}
}

func TestDiscover(t *testing.T) {
	for _, root := range []string{"../../testdata/neuronpedia-export", "../../testdata/neuronpedia-export/gemma-2-2b", fixtureSource} {
		f, err := Discover(root)
		if err != nil {
			t.Fatal(err)
		}
		if len(f.Sources) != 1 || f.Sources[0].ModelID != "gemma-2-2b" || f.Sources[0].SourceID != "20-gemmascope-res-131k" || len(f.Sources[0].Activations) != 1 {
			t.Errorf("%s: %+v", root, f.Sources)
		}
	}
	f, err := Discover("../../testdata/saedashboard")
	if err != nil || len(f.Dashboards) != 2 {
		t.Fatalf("%v %v", f, err)
	}
}

func FuzzParseActivations(f *testing.F) {
	raw, err := ReadFile(fixtureSource + "/activations/batch-79.jsonl.gz")
	if err != nil {
		f.Fatal(err)
	}
	lines := strings.SplitN(string(raw.Data), "\n", 3)
	f.Add([]byte(lines[0]))
	f.Add([]byte(`{"modelId":"m","layer":"0-x","index":5,"tokens":["\u0000"],"values":[1e38]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		as, _, err := ParseActivations(&File{Path: "fuzz", Data: data}, "", "")
		if err != nil {
			return
		}
		for _, a := range as {
			if len(a.Tokens) != len(a.Values) {
				t.Fatal("lengths differ")
			}
		}
	})
}

func FuzzParseDashboard(f *testing.F) {
	raw, err := ReadFile("../../testdata/saedashboard/gemma-2-2b-feature-81408.json")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(raw.Data)
	f.Add([]byte(`{"model_id":"m","layer":1,"sae_set":"s","features":[{"feature_index":1,"activations":[{"tokens":["a"],"values":[2]}]}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _ = ParseDashboard(&File{Path: "fuzz", Data: data}, time.Time{})
	})
}

// The fast activation decoder must agree with encoding/json on every line
// it accepts.
func FuzzFastActivationDecoder(f *testing.F) {
	raw, err := ReadFile(fixtureSource + "/activations/batch-79.jsonl.gz")
	if err != nil {
		f.Fatal(err)
	}
	for _, l := range strings.Split(string(raw.Data), "\n")[:3] {
		f.Add([]byte(l))
	}
	f.Add([]byte(`{"tokens":["a\u0000","b"],"values":[1,2]}`))
	f.Add([]byte(`{"tokens":["é","\xff"],"values":[1e-3, -0, 0.5E+2], "index": 3}`))
	f.Add([]byte(`{"tokens":[],"values":[] , "x":{"y":[1,"]"]}}`))
	f.Add([]byte(`{"id":"x","modelId":"m","layer":"0-x","index":"7","createdAt":"2024-01-02T03:04:05.000000","maxValue":1.5,"minValue":-0,` +
		`"maxValueTokenIndex":0,"binMin":null,"binMax":2,"binContains":1e-3,"dfaMaxValue":null,"qualifyingTokenIndex":3,` +
		`"dfaTargetIndex":null,"logitContributions":"é","dataIndex":null,"dataSource":"a","dfaValues":null,"lossValues":[1],"creatorId":"c","tokens":["a"],"values":[1]}`))
	f.Add([]byte(`{"index":+5,"maxValue":null,"maxValueTokenIndex":1.0,"id":"\u0041","createdAt":null,"binMin":"1"}`))
	f.Add([]byte(`{"index":05,"maxValueTokenIndex":-0,"createdAt":"2024-01-02 03:04:05Z","dataIndex":"x","dataIndex":null,"ID":"y"}`))
	f.Add([]byte(`{"index":" 12 ","createdAt":"bad","maxValueTokenIndex":99999999999999999999}`))
	f.Fuzz(func(t *testing.T, line []byte) {
		var fast activationRow
		ok := decodeActivationFast(line, &fast)
		var slow activationRow
		err := json.Unmarshal(line, &slow)
		if ok && err != nil {
			t.Fatalf("fast path accepted what encoding/json rejects (%v): %q", err, line)
		}
		if ok && !reflect.DeepEqual(fast.domain(), slow.domain()) {
			t.Fatalf("fast and slow decodes differ for %q:\n%+v\n%+v", line, fast.domain(), slow.domain())
		}
	})
}

// The fast feature decoder must agree with encoding/json on every line it
// accepts (lines it declines are decoded by encoding/json, errors included).
func FuzzFastFeatureDecoder(f *testing.F) {
	raw, err := ReadFile(fixtureSource + "/features/batch-79.jsonl.gz")
	if err != nil {
		f.Fatal(err)
	}
	for _, l := range strings.Split(strings.TrimSpace(string(raw.Data)), "\n") {
		f.Add([]byte(l))
	}
	dir := f.TempDir()
	if _, err := GenerateSynthetic(dir, SynthOptions{Features: 16, Examples: 2, Tokens: 4, Profile: ProfileWide, Seed: 1}); err != nil {
		f.Fatal(err)
	}
	found, err := Discover(dir)
	if err != nil || len(found.Sources) != 1 || len(found.Sources[0].Features) == 0 {
		f.Fatalf("synthetic export: %v %v", found, err)
	}
	syn, err := ReadFile(found.Sources[0].Path + "/" + found.Sources[0].Features[0])
	if err != nil {
		f.Fatal(err)
	}
	for _, l := range strings.Split(strings.TrimSpace(string(syn.Data)), "\n")[:4] {
		f.Add([]byte(l))
	}
	f.Add([]byte(`{"index":"3","vector":[1.5,-0,2e-3],"topkCosSimIndices":[3,-1, 0],"neg_str":["a","é"],"neg_values":[1,2]}`))
	f.Add([]byte(`{"topkCosSimIndices":[1.0],"pos_str":["\u0041"],"vector":null}`))
	f.Add([]byte(`{"topkCosSimIndices":[99999999999999999999],"Neg_Str":["x"],"vector":[1e400]}`))
	f.Add([]byte(`{"decoder_weights_dist":[],"neg_ſtr":["x"],"pos_str":["\xff"]}`))
	f.Add([]byte(`{"hasVector":true,"hasVector":null,"umap_cluster":3,"umap_x":null,"umap_y":1.5,"vectorLabel":"é","hookName":null,"maxActApprox":2,"frac_nonzero":1e-3}`))
	f.Add([]byte(`{"hasVector":1,"umap_cluster":3.5,"vectorLabel":"\n","maxActApprox":null,"index":+1,"createdAt":"2024-01-02T03:04:05Z","modelId":"m","layer":"0-x"}`))
	f.Fuzz(func(t *testing.T, line []byte) {
		var fast featureRow
		ok := decodeFeatureFast(line, &fast)
		var slow featureRow
		err := json.Unmarshal(line, &slow)
		if ok && err != nil {
			t.Fatalf("fast path accepted what encoding/json rejects (%v): %q", err, line)
		}
		if ok && !reflect.DeepEqual(fast.domain(), slow.domain()) {
			t.Fatalf("fast and slow decodes differ for %q:\n%+v\n%+v", line, fast.domain(), slow.domain())
		}
	})
}

// Every line of the fixture and of a synthetic wide export takes the fast
// path: a change that sends them back to encoding/json (and the import back
// to its old speed) fails here.
func TestFastFeatureDecoderTakesRealRows(t *testing.T) {
	dir := t.TempDir()
	if _, err := GenerateSynthetic(dir, SynthOptions{Features: 64, Examples: 2, Tokens: 4, Profile: ProfileWide, Seed: 2}); err != nil {
		t.Fatal(err)
	}
	found, err := Discover(dir)
	if err != nil || len(found.Sources) != 1 {
		t.Fatalf("%v %v", found, err)
	}
	paths := []string{fixtureSource + "/features/batch-79.jsonl.gz"}
	for _, p := range found.Sources[0].Features {
		paths = append(paths, found.Sources[0].Path+"/"+p)
	}
	n := 0
	for _, p := range paths {
		f := mustRead(t, p)
		for _, l := range strings.Split(strings.TrimSpace(string(f.Data)), "\n") {
			var fast, slow featureRow
			if !decodeFeatureFast([]byte(l), &fast) {
				t.Fatalf("%s: fast path declined %.200q", p, l)
			}
			if err := json.Unmarshal([]byte(l), &slow); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(fast.domain(), slow.domain()) {
				t.Fatalf("%s: decodes differ:\n%+v\n%+v", p, fast.domain(), slow.domain())
			}
			n++
		}
	}
	if n < 65 {
		t.Fatalf("checked %d rows", n)
	}
}

// BenchmarkFeatureRow decodes synthetic wide feature rows with the fast
// decoder and with encoding/json (docs/scaling.md, "1M features").
func BenchmarkFeatureRow(b *testing.B) {
	dir := b.TempDir()
	if _, err := GenerateSynthetic(dir, SynthOptions{Features: 1024, Examples: 2, Tokens: 4, Profile: ProfileWide, Seed: 3}); err != nil {
		b.Fatal(err)
	}
	found, err := Discover(dir)
	if err != nil || len(found.Sources) != 1 {
		b.Fatalf("%v %v", found, err)
	}
	f, err := ReadFile(found.Sources[0].Path + "/" + found.Sources[0].Features[0])
	if err != nil {
		b.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(f.Data)), "\n")
	b.Run("fast", func(b *testing.B) {
		b.SetBytes(int64(len(f.Data) / len(lines)))
		for i := 0; b.Loop(); i++ {
			var r featureRow
			if !decodeFeatureFast([]byte(lines[i%len(lines)]), &r) {
				b.Fatal("declined")
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.SetBytes(int64(len(f.Data) / len(lines)))
		for i := 0; b.Loop(); i++ {
			var r featureRow
			if err := json.Unmarshal([]byte(lines[i%len(lines)]), &r); err != nil {
				b.Fatal(err)
			}
		}
	})
}
