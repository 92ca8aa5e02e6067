package main

import (
	"errors"
	"fmt"

	"saex/internal/compute/transformer"
)

// benchForward builds a random-weight model of the config's shape, only
// as deep as hook needs, and returns a call that runs one sequence of
// tokens through it, with the call's FLOPs.
func benchForward(config string, tokens int, hook, dtype string) (func(), float64, error) {
	if config == "" || hook == "" {
		return nil, 0, errors.New("bench forward: --config and --hook are required")
	}
	cfg, err := transformer.LoadConfig(config)
	if err != nil {
		return nil, 0, fmt.Errorf("bench forward: %w", err)
	}
	if tokens > cfg.NPositions {
		return nil, 0, fmt.Errorf("bench forward: --tokens %d exceeds the config's context of %d", tokens, cfg.NPositions)
	}
	bf16 := false
	switch dtype {
	case "":
		bf16 = cfg.TorchDtype == "bfloat16" || cfg.TorchDtype == "float16"
	case "bf16":
		bf16 = true
	case "f32":
	default:
		return nil, 0, fmt.Errorf("bench forward: --dtype %q: want bf16 or f32", dtype)
	}
	hooks := []string{hook}
	layers, logits, err := cfg.LayersFor(hooks)
	if err != nil {
		return nil, 0, fmt.Errorf("bench forward: %w", err)
	}
	m, err := transformer.NewRandom(cfg, 1, hooks, bf16)
	if err != nil {
		return nil, 0, fmt.Errorf("bench forward: %w", err)
	}
	ids := make([]int, tokens)
	for i := range ids {
		ids[i] = (i*7919 + 13) % cfg.VocabSize
	}
	var callErr error
	call := func() {
		if _, err := m.Forward([][]int{ids}, hooks); err != nil && callErr == nil {
			callErr = err
		}
	}
	call()
	if callErr != nil {
		return nil, 0, fmt.Errorf("bench forward: %w", callErr)
	}
	return call, cfg.ForwardFLOPs(tokens, layers, logits), nil
}
