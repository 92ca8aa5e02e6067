//go:build unix

package tokenizer

import (
	"encoding/json"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
)

// benchText is the GPT-2 goldens' texts ten times over (as BenchmarkEncode).
func benchText(b *testing.B) string {
	var sb strings.Builder
	for _, c := range loadGolden(b, "gpt2.json") {
		sb.WriteString(c.Text)
		sb.WriteString("\n")
	}
	return strings.Repeat(sb.String(), 10)
}

// BenchmarkEncodeFamilies compares the general pipeline on the real files
// with the GPT-2 fast path (gpt2-fast) on the same text; llama3-regexp2
// is Llama 3 with its Split regex run by regexp2 instead of the
// hand-written matcher (the pattern gets a redundant "|\s+" so that it is
// not recognised).
func BenchmarkEncodeFamilies(b *testing.B) {
	text := benchText(b)
	toks := map[string]*Tokenizer{"gpt2-fast": mustLoad(b, gpt2Dir)}
	for _, name := range families {
		toks[name] = familyTokenizer(b, name)
	}
	pre, _ := json.Marshal(map[string]any{"type": "Sequence", "pretokenizers": []any{
		map[string]any{"type": "Split", "pattern": map[string]string{"Regex": llama3Regex + `|\s+`}, "behavior": "Isolated", "invert": false},
		map[string]any{"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": false},
	}})
	slow, err := FromJSON("llama3-regexp2", applyPatch(b, readTokenizerJSON(b, "llama3_1"), map[string]json.RawMessage{"pre_tokenizer": pre}))
	if err != nil {
		b.Fatal(err)
	}
	toks["llama3-regexp2"] = slow
	for _, name := range []string{"gpt2-fast", "llama3_1", "llama3-regexp2", "qwen3", "gemma3"} {
		tok := toks[name]
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(text)))
			runtime.GC() // the loads' garbage is not this path's cost
			b.ResetTimer()
			cpu0 := cpuTime()
			for b.Loop() {
				tok.EncodeSpecial(text)
			}
			// On a shared, loaded machine wall time says little; the
			// process's CPU time per op compares the paths.
			b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")
		})
	}
}

// cpuTime is the process's user + system CPU time in nanoseconds.
func cpuTime() int64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// BenchmarkLoadFamilies: reading the real files (Gemma 3's is 33 MB).
func BenchmarkLoadFamilies(b *testing.B) {
	for _, name := range families {
		data := readTokenizerJSON(b, name)
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				if _, err := FromJSON(filepath.Join(name, "tokenizer.json"), data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
