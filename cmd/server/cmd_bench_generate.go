package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"

	"saex/internal/compute/kernel"
	"saex/internal/compute/transformer"
)

// benchGenerateOutput is what bench generate prints: the prefill of the
// prompt, the mean time of one decode step at batch 1, and the weight
// bytes a step reads; read_fraction compares weight_bytes_per_token /
// seconds_per_token with a plain streaming read of as many bytes measured
// in the same run (stream_bytes_per_second).
type benchGenerateOutput struct {
	PrefillSeconds       float64 `json:"prefill_seconds"`
	SecondsPerToken      float64 `json:"seconds_per_token"`
	WeightBytesPerToken  int64   `json:"weight_bytes_per_token"`
	StreamBytesPerSecond float64 `json:"stream_bytes_per_second"`
	ReadFraction         float64 `json:"read_fraction"`
	ForwardSeconds       float64 `json:"forward_seconds"` // Forward of the same prompt to the logits, for comparison with prefill
}

// runBenchGenerate times generation on a random-weight model of a config's
// shape: bench generate --config FILE --prompt-tokens P --n-tokens N
// [--threads T] [--dtype bf16|f32].
func runBenchGenerate(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "bench generate")
	threads := fs.Int("threads", 0, "kernel worker threads (0: GOMAXPROCS)")
	config := fs.String("config", "", "a Hugging Face config.json; random weights of its shape")
	prompt := fs.Int("prompt-tokens", 0, "prompt length")
	nTokens := fs.Int("n-tokens", 0, "tokens to decode after the prompt")
	dtype := fs.String("dtype", "", "weights: bf16 or f32 (default: bf16 when the config's torch_dtype is 16-bit)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *config == "" {
		return errors.New("bench generate: --config is required")
	}
	if err := benchDims(fs.NArg(), "--prompt-tokens", *prompt, "--n-tokens", *nTokens); err != nil {
		return err
	}
	if *threads < 0 {
		return errors.New("bench: --threads must be >= 0")
	}
	cfg, err := transformer.LoadConfig(*config)
	if err != nil {
		return fmt.Errorf("bench generate: %w", err)
	}
	if *prompt+*nTokens > cfg.NPositions {
		return fmt.Errorf("bench generate: --prompt-tokens + --n-tokens = %d exceeds the config's context of %d", *prompt+*nTokens, cfg.NPositions)
	}
	bf16 := false
	switch *dtype {
	case "":
		bf16 = cfg.TorchDtype == "bfloat16" || cfg.TorchDtype == "float16"
	case "bf16":
		bf16 = true
	case "f32":
	default:
		return fmt.Errorf("bench generate: --dtype %q: want bf16 or f32", *dtype)
	}
	prev := kernel.SetThreads(*threads)
	defer kernel.SetThreads(prev)
	m, err := transformer.NewRandom(cfg, 1, []string{"logits"}, bf16)
	if err != nil {
		return fmt.Errorf("bench generate: %w", err)
	}
	ids := make([]int, *prompt)
	for i := range ids {
		ids[i] = (i*7919 + 13) % cfg.VocabSize
	}
	out := benchGenerateOutput{WeightBytesPerToken: m.DecodeWeightBytes()}
	run := func() (prefill, perToken float64, err error) {
		dec, err := m.NewDecoder(*prompt+*nTokens, nil)
		if err != nil {
			return 0, 0, err
		}
		t0 := time.Now()
		logits, err := dec.Prefill(ids)
		if err != nil {
			return 0, 0, err
		}
		prefill = time.Since(t0).Seconds()
		t1 := time.Now()
		for range *nTokens {
			if err := ctx.Err(); err != nil {
				return 0, 0, err
			}
			if logits, err = dec.Step(transformer.Argmax(logits)); err != nil {
				return 0, 0, err
			}
		}
		return prefill, time.Since(t1).Seconds() / float64(*nTokens), nil
	}
	if _, _, err := run(); err != nil { // warm up: page in the weights, start the workers
		return fmt.Errorf("bench generate: %w", err)
	}
	out.PrefillSeconds, out.SecondsPerToken = math.Inf(1), math.Inf(1)
	out.ForwardSeconds = math.Inf(1)
	for range 3 { // best of three, each part on its own
		p, s, err := run()
		if err != nil {
			return fmt.Errorf("bench generate: %w", err)
		}
		out.PrefillSeconds, out.SecondsPerToken = min(out.PrefillSeconds, p), min(out.SecondsPerToken, s)
		t := time.Now()
		if _, err := m.Forward([][]int{ids}, []string{"logits"}); err != nil {
			return fmt.Errorf("bench generate: %w", err)
		}
		out.ForwardSeconds = min(out.ForwardSeconds, time.Since(t).Seconds())
	}
	out.StreamBytesPerSecond = streamRead(out.WeightBytesPerToken)
	out.ReadFraction = float64(out.WeightBytesPerToken) / out.SecondsPerToken / out.StreamBytesPerSecond
	return json.NewEncoder(env.Stdout).Encode(out)
}

// streamRead measures a plain parallel read of a fresh buffer of n bytes
// (at most 1 GiB: far past any cache), summing it as 64-bit words in eight
// independent chains on the kernel's workers so that the adds keep up with
// memory; best of three, in bytes per second: the ceiling a decode step,
// which reads every weight once, can approach.
func streamRead(n int64) float64 {
	buf := make([]uint64, min(max(n/8, 1<<17), 1<<27))
	for i := range buf {
		buf[i] = uint64(i)
	}
	const chunk = 1 << 15
	chunks := (len(buf) + chunk - 1) / chunk
	sums := make([]uint64, chunks)
	best := math.Inf(1)
	for range 3 {
		t := time.Now()
		kernel.ForEach(chunks, func(_, c int) {
			var s [8]uint64
			part := buf[c*chunk : min(len(buf), (c+1)*chunk)]
			i := 0
			for ; i+8 <= len(part); i += 8 {
				p := part[i : i+8 : i+8]
				s[0] += p[0]
				s[1] += p[1]
				s[2] += p[2]
				s[3] += p[3]
				s[4] += p[4]
				s[5] += p[5]
				s[6] += p[6]
				s[7] += p[7]
			}
			for ; i < len(part); i++ {
				s[0] += part[i]
			}
			sums[c] = s[0] + s[1] + s[2] + s[3] + s[4] + s[5] + s[6] + s[7]
		})
		best = min(best, time.Since(t).Seconds())
	}
	return float64(8*len(buf)) / best
}
