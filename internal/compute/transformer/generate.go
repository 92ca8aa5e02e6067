package transformer

import (
	"context"
	"fmt"
)

// GenerateOptions is one generation's settings.
type GenerateOptions struct {
	NTokens  int // tokens to generate at most (> 0)
	Sampling Sampling
	// Stop ends generation after any of these tokens is generated (it is
	// included in the result); typically the model's EOS.
	Stop []int
	// Steer (nil: none) is applied during the prompt's prefill and every
	// decode step, at every position.
	Steer *Steering
	// Each, when set, is called with every generated token as it is
	// chosen; an error from it ends the generation with that error.
	Each func(id int) error
}

// Generate feeds prompt and generates up to opt.NTokens tokens after it,
// returning the generated ones (prompt excluded). It checks ctx before
// every step, so a cancelled request stops within one token.
func (m *Model) Generate(ctx context.Context, prompt []int, opt GenerateOptions) ([]int, error) {
	if len(prompt) == 0 {
		return nil, fmt.Errorf("prompt: no tokens")
	}
	if opt.NTokens <= 0 {
		return nil, fmt.Errorf("n_tokens %d: want > 0", opt.NTokens)
	}
	if err := opt.Sampling.Validate(); err != nil {
		return nil, err
	}
	if len(prompt) > m.Cfg.NPositions {
		return nil, fmt.Errorf("prompt: %d tokens, more than the model's context of %d", len(prompt), m.Cfg.NPositions)
	}
	var iv Intervention
	if opt.Steer != nil {
		if err := opt.Steer.Validate(m); err != nil {
			return nil, err
		}
		iv = opt.Steer
	}
	// The last generated token is never fed, so the cache needs one
	// position less than prompt + n_tokens.
	n := min(opt.NTokens, m.Cfg.NPositions-len(prompt)+1)
	dec, err := m.NewDecoder(len(prompt)+n-1, iv)
	if err != nil {
		return nil, err
	}
	sm := NewSampler(opt.Sampling)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	logits, err := dec.Prefill(prompt)
	if err != nil {
		return nil, err
	}
	out := make([]int, 0, n)
	for {
		id := sm.Next(logits, dec.Tokens())
		out = append(out, id)
		if opt.Each != nil {
			if err := opt.Each(id); err != nil {
				return out, err
			}
		}
		if len(out) == n || isStop(id, opt.Stop) {
			return out, nil
		}
		if err := ctx.Err(); err != nil {
			return out, err
		}
		if logits, err = dec.Step(id); err != nil {
			return out, err
		}
	}
}

func isStop(id int, stop []int) bool {
	for _, s := range stop {
		if s == id {
			return true
		}
	}
	return false
}
