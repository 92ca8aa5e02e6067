// Command gen-synthetic-export writes a synthetic Neuronpedia export the
// size of gpt2-small/6-res-jb (24,576 features, 50 examples of 128 tokens
// each) for import benchmarks:
//
//	go run ./scripts/gen-synthetic-export --out /tmp/synth
//	go run ./cmd/server import --from /tmp/synth
//
// --profile wide writes a wide SAE's mix instead (npexport.WideMix: dead,
// rare and live features), as scripts/bench-1m.sh does for 1,048,576
// features.
package main

import (
	"flag"
	"fmt"
	"os"
	"time"

	"saex/internal/npexport"
)

func main() {
	var o npexport.SynthOptions
	out := flag.String("out", "", "layout root to write {model}/{source}/ under")
	flag.StringVar(&o.ModelID, "model", "gpt2-small", "model id")
	flag.StringVar(&o.SourceID, "source", "6-res-jb", "source id")
	flag.IntVar(&o.Features, "features", 24576, "features")
	flag.IntVar(&o.Examples, "examples", 50, "examples per feature")
	flag.IntVar(&o.Tokens, "tokens", 128, "tokens per example")
	flag.Uint64Var(&o.Seed, "seed", 1, "random seed")
	flag.IntVar(&o.Vocab, "vocab", 0, "vocabulary size (0: GPT-2's 50,257)")
	flag.StringVar(&o.Profile, "profile", "", `"" (every feature with --examples examples) or "wide" (dead, rare and live features)`)
	flag.Parse()
	if *out == "" {
		fmt.Fprintln(os.Stderr, "gen-synthetic-export: --out is required")
		os.Exit(2)
	}
	start := time.Now()
	rows, err := npexport.GenerateSynthetic(*out, o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "gen-synthetic-export:", err)
		os.Exit(1)
	}
	fmt.Printf("wrote %d features, %d examples under %s in %s\n", o.Features, rows, *out, time.Since(start).Round(time.Millisecond))
}
