package npexport

import (
	"path/filepath"
	"testing"
)

// BenchmarkParseActivations parses a synthetic activations file (the fast
// decoder's common case): go test ./internal/npexport -run XXX -bench ParseActivations.
func BenchmarkParseActivations(b *testing.B) {
	dir := b.TempDir()
	o := SynthOptions{ModelID: "gpt2-small", SourceID: "6-res-jb", Features: 256, Examples: 16, Tokens: 64, Seed: 5}
	if _, err := GenerateSynthetic(dir, o); err != nil {
		b.Fatal(err)
	}
	f, err := ReadFile(filepath.Join(dir, "gpt2-small", "6-res-jb", "activations", "batch-0.jsonl.gz"))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(f.Data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := ParseActivations(f, "", ""); err != nil {
			b.Fatal(err)
		}
	}
}
