package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"saex/internal/compute/kernel"
	"saex/internal/compute/sae"
)

func init() {
	register("bench", "time the SAE encode (bench encode ...), the matmul kernel (bench gemm ...), a model forward pass (bench forward ...) or KV-cached decoding (bench generate ...) on random data; prints JSON", runBench)
}

// benchOutput is the JSON shape external checks rely on; keep it.
type benchOutput struct {
	GFLOPS         float64 `json:"gflops"`
	SecondsPerCall float64 `json:"seconds_per_call"`
	PeakRSSBytes   int64   `json:"peak_rss_bytes,omitempty"` // bench forward only
	// CPU seconds of the whole process per call (all threads): with
	// seconds_per_call, how much of the machine the calls really got.
	CPUSecondsPerCall float64 `json:"cpu_seconds_per_call,omitempty"`
}

// maxBenchFloats bounds any one random matrix (4 GiB of float32).
const maxBenchFloats = 1 << 30

func runBench(ctx context.Context, env *Env, args []string) error {
	if len(args) == 0 {
		return errors.New("bench: want a target: bench encode --d-in N --d-sae N --tokens N [--k N] [--threads N], bench gemm --m N --k N --n N [--dtype f32|bf16|f16] [--threads N], bench forward --config FILE --tokens T --hook H [--dtype bf16|f32] [--threads N], or bench generate --config FILE --prompt-tokens P --n-tokens N [--dtype bf16|f32] [--threads N]")
	}
	target, args := args[0], args[1:]
	if target == "generate" { // its own output (cmd_bench_generate.go)
		return runBenchGenerate(ctx, env, args)
	}
	fs := newFlagSet(env, "bench "+target)
	threads := fs.Int("threads", 0, "kernel worker threads (0: GOMAXPROCS)")
	var call func()
	var callErr error
	var flops float64
	switch target {
	case "encode":
		din := fs.Int("d-in", 0, "SAE input width")
		dsae := fs.Int("d-sae", 0, "SAE width")
		tokens := fs.Int("tokens", 0, "tokens per encode call")
		k := fs.Int("k", 32, "TopK k (0: a ReLU SAE)")
		if err := fs.Parse(args); err != nil {
			return err
		}
		if err := benchDims(fs.NArg(), "--d-in", *din, "--d-sae", *dsae, "--tokens", *tokens); err != nil {
			return err
		}
		if int64(*din)*int64(*dsae) > maxBenchFloats || int64(*tokens)*int64(*din) > maxBenchFloats {
			return errors.New("bench encode: matrices too large (over 2^30 values)")
		}
		cfg := sae.Config{Architecture: sae.TopK, DIn: *din, DSAE: *dsae, K: *k, ApplyBDecToInput: true,
			NormalizeActivations: sae.NormNone, ReshapeActivations: "none"}
		if *k == 0 {
			cfg.Architecture = sae.Standard
		}
		s, err := sae.NewRandom(cfg, 1)
		if err != nil {
			return fmt.Errorf("bench encode: %w", err)
		}
		x := randomFloats(*tokens**din, 2)
		call = func() { _, callErr = s.EncodeSparse(x, *tokens) }
		flops = 2 * float64(*tokens) * float64(*din) * float64(*dsae)
	case "gemm":
		m := fs.Int("m", 0, "rows of A and C")
		k := fs.Int("k", 0, "inner dimension")
		n := fs.Int("n", 0, "columns of B and C")
		dtype := fs.String("dtype", "f32", "element type B is stored in: f32, bf16 or f16 (16-bit B is widened by the kernel as it is read)")
		if err := fs.Parse(args); err != nil {
			return err
		}
		if err := benchDims(fs.NArg(), "--m", *m, "--k", *k, "--n", *n); err != nil {
			return err
		}
		for _, p := range [][2]int{{*m, *k}, {*k, *n}, {*m, *n}} {
			if int64(p[0])*int64(p[1]) > maxBenchFloats {
				return errors.New("bench gemm: matrices too large (over 2^30 values)")
			}
		}
		a, c := randomFloats(*m**k, 3), make([]float32, *m**n)
		var b *kernel.Packed // packed once, as weights are
		switch w := randomFloats(*k**n, 4); *dtype {
		case "f32":
			b = kernel.Pack(w, *k, *n)
		case "bf16":
			b = kernel.PackBF16(roundHalves(w, false), *k, *n)
		case "f16":
			b = kernel.PackF16(roundHalves(w, true), *k, *n)
		default:
			return fmt.Errorf("bench gemm: --dtype %q: want f32, bf16 or f16", *dtype)
		}
		call = func() { kernel.MatMul(c, a, *m, b, nil) }
		flops = 2 * float64(*m) * float64(*k) * float64(*n)
	case "forward":
		config := fs.String("config", "", "a Hugging Face config.json; random weights of its shape")
		tokens := fs.Int("tokens", 0, "tokens in the one sequence")
		hook := fs.String("hook", "", "the hook to stop at (only the layers it needs are built)")
		dtype := fs.String("dtype", "", "weights: bf16 or f32 (default: bf16 when the config's torch_dtype is 16-bit)")
		if err := fs.Parse(args); err != nil {
			return err
		}
		if err := benchDims(fs.NArg(), "--tokens", *tokens); err != nil {
			return err
		}
		var err error
		if call, flops, err = benchForward(*config, *tokens, *hook, *dtype); err != nil {
			return err
		}
	default:
		return fmt.Errorf("bench: unknown target %q (want encode, gemm, forward or generate)", target)
	}
	if *threads < 0 {
		return errors.New("bench: --threads must be >= 0")
	}
	prev := kernel.SetThreads(*threads)
	defer kernel.SetThreads(prev)
	env.Logger().Debug("bench", "target", target, "impl", kernel.Impl(), "threads", kernel.Threads())

	call() // warm up: page in the data, start the workers
	var calls int
	start, cpu0 := time.Now(), cpuSeconds()
	for calls < 3 || time.Since(start) < 500*time.Millisecond {
		if err := ctx.Err(); err != nil {
			return err
		}
		call()
		calls++
	}
	if callErr != nil {
		return fmt.Errorf("bench %s: %w", target, callErr)
	}
	per := time.Since(start).Seconds() / float64(calls)
	out := benchOutput{GFLOPS: flops / per / 1e9, SecondsPerCall: per, CPUSecondsPerCall: (cpuSeconds() - cpu0) / float64(calls)}
	if target == "forward" {
		out.PeakRSSBytes = peakRSS()
	}
	return json.NewEncoder(env.Stdout).Encode(out)
}

// benchDims checks that every dimension flag (name, value pairs) was
// given a positive value.
func benchDims(extra int, dims ...any) error {
	if extra > 0 {
		return errors.New("bench: unexpected arguments")
	}
	for i := 0; i+1 < len(dims); i += 2 {
		if v := dims[i+1].(int); v <= 0 {
			return fmt.Errorf("bench: %s must be a positive integer (got %d)", dims[i], v)
		}
	}
	return nil
}

func randomFloats(n int, seed uint64) []float32 {
	rng := rand.New(rand.NewPCG(seed, 7))
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(rng.NormFloat64())
	}
	return v
}

// roundHalves converts float32 values of moderate size to bfloat16 (by
// truncation) or, with ieee, to IEEE half precision (by truncation, for
// |v| < 65504), as raw 16-bit patterns for the 16-bit gemm benchmark.
func roundHalves(v []float32, ieee bool) []uint16 {
	out := make([]uint16, len(v))
	for i, x := range v {
		bits := math.Float32bits(x)
		if !ieee {
			out[i] = uint16(bits >> 16)
			continue
		}
		sign := uint16(bits>>16) & 0x8000
		exp := int(bits>>23&0xff) - 127 + 15
		switch {
		case exp >= 31:
			out[i] = sign | 0x7bff
		case exp <= 0:
			out[i] = sign // flush tiny values to zero
		default:
			out[i] = sign | uint16(exp)<<10 | uint16(bits>>13&0x3ff)
		}
	}
	return out
}
