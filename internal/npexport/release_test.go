package npexport

import (
	"path/filepath"
	"reflect"
	"testing"
)

// saex import releases a file's buffer for the next file as soon as its
// rows are written: the parsed rows must not alias f.Data. Each file is
// parsed, released, its old bytes overwritten, and the rows compared with
// those of a copy that was never released.
func TestParsedRowsOutliveRelease(t *testing.T) {
	parse := map[string]func(f *File) (any, error){ // by the folder a file is in
		"features": func(f *File) (any, error) {
			v, _, err := ParseFeatures(f, "", "")
			return v, err
		},
		"activations": func(f *File) (any, error) {
			v, _, err := ParseActivations(f, "", "")
			return v, err
		},
		"explanations": func(f *File) (any, error) {
			v, _, err := ParseExplanations(f, "", "")
			return v, err
		},
	}
	// The fixture's rows all have escapes (the slow path, encoding/json);
	// synthetic rows take the fast decoders, of both profiles.
	paths := []string{filepath.Join(fixtureSource, "features/batch-79.jsonl.gz"),
		filepath.Join(fixtureSource, "activations/batch-79.jsonl.gz"), filepath.Join(fixtureSource, "explanations/batch-0.jsonl.gz")}
	synth := t.TempDir()
	for i, profile := range []string{"", ProfileWide} {
		src := "6-res-jb" + string(rune('a'+i))
		o := SynthOptions{ModelID: "gpt2-small", SourceID: src, Features: 40, Examples: 3, Tokens: 8, Seed: 5, Profile: profile}
		if _, err := GenerateSynthetic(synth, o); err != nil {
			t.Fatal(err)
		}
		for kind := range parse {
			paths = append(paths, filepath.Join(synth, "gpt2-small", src, kind, "batch-0.jsonl.gz"))
		}
	}
	for _, path := range paths {
		fn := parse[filepath.Base(filepath.Dir(path))]
		want, err := fn(mustRead(t, path))
		if err != nil {
			t.Fatal(err)
		}
		f := mustRead(t, path)
		if f.buf == nil {
			t.Fatalf("%s: a .gz file's data did not come from the pool", path)
		}
		got, err := fn(f)
		if err != nil {
			t.Fatal(err)
		}
		old := f.Data
		f.Release()
		if f.Data != nil {
			t.Errorf("%s: Data still set after Release", path)
		}
		for i := range old {
			old[i] = 'x' // what the next file inflated into this buffer would do
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: rows changed when the released buffer was overwritten", path)
		}
		mustRead(t, path).Release() // reuses the buffer
	}
}
