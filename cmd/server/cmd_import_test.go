package main

import (
	"compress/gzip"
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"saex/internal/features"
	"saex/internal/npexport"
	"saex/internal/store/storetest"
)

const (
	npFixtureRoot   = "../../testdata/neuronpedia-export"
	npFixtureSource = npFixtureRoot + "/gemma-2-2b/20-gemmascope-res-131k"
	sdFixtureRoot   = "../../testdata/saedashboard"
)

var bg = context.Background()

func TestImportFixturesReadBackEqual(t *testing.T) {
	url := storetest.NewURL(t)
	if out, err := runCLI(t, "import", "--from", npFixtureRoot, "--database-url", url); err != nil {
		t.Fatalf("import: %v\n%s", err, out)
	}
	// The Gemma feature is in both fixtures: load the SAEDashboard files
	// into a database of their own.
	urlSD := storetest.NewURL(t)
	if out, err := runCLI(t, "import", "--from", sdFixtureRoot, "--database-url", urlSD); err != nil {
		t.Fatalf("import saedashboard: %v\n%s", err, out)
	}
	db := openTestDB(t, url)
	dbSD := openTestDB(t, urlSD)
	// The import refreshed the rank marks of what it wrote.
	checkRankMarks(t, db, "gemma-2-2b", "20-gemmascope-res-131k")
	checkRankMarks(t, dbSD, "gpt2-small", "0-res-jb")
	checkRankMarks(t, dbSD, "gemma-2-2b", "20-gemmascope-res-131k")

	meta, fs, err := npexport.LoadSource(npFixtureSource)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range fs {
		got, err := db.GetFeature(bg, want.Key(), features.FeatureOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if d := sameFeature(want, got); d != "" {
			t.Errorf("%s: %s\nwant %+v\ngot  %+v", want.Key(), d, want, got)
		}
	}
	src, err := db.GetSource(bg, "gemma-2-2b", "20-gemmascope-res-131k")
	if err != nil {
		t.Fatal(err)
	}
	src.NumFeatures = 0
	if !reflect.DeepEqual(src, meta.Source) {
		t.Errorf("source differs\n%+v\n%+v", src, meta.Source)
	}

	for _, p := range []string{sdFixtureRoot + "/gpt2-small-0-res-jb/batch-0.json", sdFixtureRoot + "/gemma-2-2b-feature-81408.json"} {
		f, err := npexport.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		st, _ := os.Stat(p)
		d, err := npexport.ParseDashboard(f, st.ModTime())
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range d.Features {
			got, err := dbSD.GetFeature(bg, want.Key(), features.FeatureOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if diff := sameFeature(want, got); diff != "" {
				t.Errorf("%s (%s): %s", want.Key(), p, diff)
			}
		}
	}
	if n := countRows(t, dbSD, "features"); n != 3 {
		t.Errorf("%d features, want 3", n)
	}

	// Importing again changes nothing.
	for _, c := range []struct {
		from, url string
	}{{npFixtureRoot, url}, {sdFixtureRoot, urlSD}} {
		d := openTestDB(t, c.url)
		before := fingerprint(t, d)
		if out, err := runCLI(t, "import", "--from", c.from, "--database-url", c.url); err != nil {
			t.Fatalf("reimport: %v\n%s", err, out)
		}
		if after := fingerprint(t, d); after != before {
			t.Errorf("second import of %s changed the database", c.from)
		}
	}
}

func TestExportImportLossless(t *testing.T) {
	url := storetest.NewURL(t)
	for _, from := range []string{npFixtureRoot, sdFixtureRoot + "/gpt2-small-0-res-jb"} {
		if out, err := runCLI(t, "import", "--from", from, "--database-url", url); err != nil {
			t.Fatalf("import: %v\n%s", err, out)
		}
	}
	db := openTestDB(t, url)
	// An explanation with scores and an embedding, which the fixtures lack.
	emb := make([]float32, features.EmbeddingDim)
	emb[0], emb[255] = 0.5, -0.25
	v2 := 0.8
	if err := db.CreateExplanation(bg, &features.Explanation{ModelID: "gpt2-small", SourceID: "0-res-jb", Index: 0,
		Description: "military units", TypeName: "human", Embedding: emb, ScoreV2: &v2,
		Scores: []*features.ExplanationScore{{Value: 0.9, ExplanationScoreTypeName: "recall_alt", JSONDetails: "{}"}}}); err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	for _, ms := range [][2]string{{"gemma-2-2b", "20-gemmascope-res-131k"}, {"gpt2-small", "0-res-jb"}} {
		if o, err := runCLI(t, "export", "--model", ms[0], "--source", ms[1], "--to", out, "--database-url", url); err != nil {
			t.Fatalf("export: %v\n%s", err, o)
		}
	}
	// The exported files read back as the original files did.
	meta1, fs1, err := npexport.LoadSource(npFixtureSource)
	if err != nil {
		t.Fatal(err)
	}
	meta2, fs2, err := npexport.LoadSource(filepath.Join(out, "gemma-2-2b", "20-gemmascope-res-131k"))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(meta1, meta2) {
		t.Errorf("metadata differs after export:\n%+v\n%+v", meta1.Source, meta2.Source)
	}
	for i := range fs1 {
		if d := sameFeature(fs1[i], fs2[i]); d != "" {
			t.Errorf("exported %s: %s", fs1[i].Key(), d)
		}
	}
	// import -> export -> import: the second database reads the same.
	url2 := storetest.NewURL(t)
	if o, err := runCLI(t, "import", "--from", out, "--database-url", url2); err != nil {
		t.Fatalf("reimport: %v\n%s", err, o)
	}
	db2 := openTestDB(t, url2)
	for _, ms := range [][2]string{{"gemma-2-2b", "20-gemmascope-res-131k"}, {"gpt2-small", "0-res-jb"}} {
		sums, total, err := db.ListFeatures(bg, features.FeatureFilter{ModelID: ms[0], SourceID: ms[1], Limit: 100})
		if err != nil || total == 0 {
			t.Fatal(err, total)
		}
		for _, s := range sums {
			a, err := db.GetFeature(bg, s.Key, features.FeatureOptions{})
			if err != nil {
				t.Fatal(err)
			}
			b, err := db2.GetFeature(bg, s.Key, features.FeatureOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if d := sameFeature(a, b); d != "" {
				t.Errorf("%s after import-export-import: %s", s.Key, d)
			}
		}
		s1, _ := db.GetSource(bg, ms[0], ms[1])
		s2, _ := db2.GetSource(bg, ms[0], ms[1])
		if !reflect.DeepEqual(s1, s2) {
			t.Errorf("source %v differs:\n%+v\n%+v", ms, s1, s2)
		}
	}
}

// copyTree copies the fixture source folder so a test can damage it.
func copyTree(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.Walk(from, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		dst := filepath.Join(to, rel)
		if info.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(dst, b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func writeGz(t *testing.T, path, content string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	zw := gzip.NewWriter(f)
	zw.Write([]byte(content))
	zw.Close()
	f.Close()
}

func readGz(t *testing.T, path string) string {
	t.Helper()
	f, err := npexport.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(f.Data)
}

func TestImportBadInput(t *testing.T) {
	src := "gemma-2-2b/20-gemmascope-res-131k"
	feats := readGz(t, filepath.Join(npFixtureSource, "features/batch-79.jsonl.gz"))
	acts := readGz(t, filepath.Join(npFixtureSource, "activations/batch-79.jsonl.gz"))
	actLines := strings.Split(strings.TrimSpace(acts), "\n")
	cases := []struct {
		name   string
		damage func(dir string)
		want   []string // substrings of the error
	}{
		{"bad json", func(dir string) {
			writeGz(t, filepath.Join(dir, "activations/batch-79.jsonl.gz"), actLines[0]+"\n"+actLines[1]+"\n{\"id\": \"x\",\n")
		}, []string{"activations/batch-79.jsonl.gz:3"}},
		{"wrong type", func(dir string) {
			writeGz(t, filepath.Join(dir, "activations/batch-79.jsonl.gz"), actLines[0]+"\n"+strings.Replace(actLines[1], `"maxValue": `, `"maxValue": "1", "x": `, 1))
		}, []string{"activations/batch-79.jsonl.gz:2", "maxValue"}},
		{"truncated gzip", func(dir string) {
			p := filepath.Join(dir, "activations/batch-79.jsonl.gz")
			raw, _ := os.ReadFile(p)
			os.WriteFile(p, raw[:len(raw)/2], 0o644)
		}, []string{"activations/batch-79.jsonl.gz", "gzip"}},
		{"activation of a missing feature", func(dir string) {
			writeGz(t, filepath.Join(dir, "activations/batch-79.jsonl.gz"), actLines[0]+"\n"+actLines[1]+"\n"+strings.Replace(actLines[2], `"index": "81408"`, `"index": "81409"`, 1))
		}, []string{"activations/batch-79.jsonl.gz:3", "81409"}},
		{"feature without its source", func(dir string) {
			os.Remove(filepath.Join(dir, "source.jsonl"))
		}, []string{"features/batch-79.jsonl.gz:1", "no source"}},
		{"feature of another source", func(dir string) {
			writeGz(t, filepath.Join(dir, "features/batch-79.jsonl.gz"), strings.Replace(feats, `"layer": "20-gemmascope-res-131k"`, `"layer": "21-gemmascope-res-131k"`, 1))
		}, []string{"features/batch-79.jsonl.gz:1"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			root := t.TempDir()
			dir := filepath.Join(root, src)
			copyTree(t, npFixtureSource, dir)
			c.damage(dir)
			url := storetest.NewURL(t)
			out, err := runCLI(t, "import", "--from", root, "--database-url", url)
			if err == nil {
				t.Fatalf("import succeeded:\n%s", out)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			// Nothing of the bad file was loaded.
			db := openTestDB(t, url)
			if n := countRows(t, db, "activations"); n != 0 {
				t.Errorf("%d activations loaded from a bad batch", n)
			}
		})
	}
}
