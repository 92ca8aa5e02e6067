package inference

import (
	"fmt"

	"saex/internal/compute/sae"
	"saex/internal/compute/transformer"
)

// SAESteerVector returns the hook an SAE reads and feature index's decoder
// direction W_dec[index] (aliasing the SAE), the vector Neuronpedia steers
// with. hook_z SAEs read the flattened [n_head*d_head] z.
func SAESteerVector(s *sae.SAE, index int) (transformer.Hook, []float32, error) {
	h, err := transformer.ParseHook(s.Cfg.HookName)
	if err != nil {
		return transformer.Hook{}, nil, fmt.Errorf("SAE %s: %w", s.Dir, err)
	}
	if index < 0 || index >= s.Cfg.DSAE {
		return transformer.Hook{}, nil, fmt.Errorf("feature index %d out of range: the SAE at %s has %d features", index, s.Cfg.HookName, s.Cfg.DSAE)
	}
	d := s.Cfg.DIn
	return h, s.WDec[index*d : (index+1)*d : (index+1)*d], nil
}
