package inference

import (
	"context"
	"fmt"
	"math"
	"strings"

	"saex/internal/compute/transformer"
	"saex/internal/features"
)

var _ features.Steerer = (*Engine)(nil)

// steerModel returns the model steering runs (the engine's own).
func steerModel(em *engineModel) (*transformer.Model, error) { return em.model, nil }

// Steer implements features.Steerer: it builds the steering from the
// engine's SAEs and the request's vectors, then generates each requested
// completion under a compute slot of the scheduler (one slot per
// completion, so other prompts interleave), reporting the text as it grows.
func (e *Engine) Steer(ctx context.Context, req features.SteerRequest, progress features.SteerProgress) (map[string]string, error) {
	em := e.model(req.ModelID)
	if em == nil {
		return nil, features.Errorf(features.ENOTFOUND, "model %q is not loaded for inference", req.ModelID)
	}
	m, err := steerModel(em)
	if err != nil {
		return nil, err
	}
	st, err := e.steering(em, m, req)
	if err != nil {
		return nil, err
	}
	ids, _ := em.tok.Encode(req.Prompt)
	if m.Cfg.DefaultPrependBOS && m.Cfg.BOSTokenID >= 0 {
		ids = append([]int{m.Cfg.BOSTokenID}, ids...)
	}
	if len(ids) == 0 {
		return nil, features.Errorf(features.EINVALID, "field \"prompt\": has no tokens")
	}
	if limit := m.Cfg.NPositions; len(ids) >= limit {
		return nil, features.Errorf(features.EINVALID, "field \"prompt\": %d tokens leave no room to generate within model %s's context of %d", len(ids), req.ModelID, limit)
	}
	samp := transformer.Sampling{Temperature: req.Temperature, FreqPenalty: req.FreqPenalty, Seed: uint64(req.Seed)}
	if err := samp.Validate(); err != nil {
		return nil, features.Errorf(features.EINVALID, "%v", err)
	}
	var stop []int
	if m.Cfg.EOSTokenID >= 0 {
		stop = []int{m.Cfg.EOSTokenID}
	}
	out := map[string]string{}
	for _, typ := range req.Types {
		opt := transformer.GenerateOptions{NTokens: req.NTokens, Sampling: samp, Stop: stop}
		switch typ {
		case features.SteerSteered:
			opt.Steer = st
		case features.SteerDefault:
		default:
			return nil, features.Errorf(features.EINVALID, "field \"types\": unknown type %q (STEERED or DEFAULT)", typ)
		}
		var gen []int
		if progress != nil {
			opt.Each = func(id int) error {
				gen = append(gen, id)
				progress(typ, em.tok.Decode(gen))
				return nil
			}
		}
		text, err := e.generate(ctx, m, ids, opt)
		if err != nil {
			return nil, err
		}
		out[typ] = em.tok.Decode(text)
	}
	return out, nil
}

// generate runs one generation under a compute slot.
func (e *Engine) generate(ctx context.Context, m *transformer.Model, ids []int, opt transformer.GenerateOptions) ([]int, error) {
	release, err := e.sched.AcquireCompute(ctx)
	if err != nil {
		return nil, err
	}
	defer release()
	out, err := m.Generate(ctx, ids, opt)
	if err != nil && ctx.Err() == nil {
		return nil, features.Errorf(features.EINVALID, "%v", err)
	}
	return out, err
}

// maxSteerCoeff bounds strength × multiplier: far past any useful steer,
// and small enough that float32 activations stay finite.
const maxSteerCoeff = 1e6

// steering resolves the request's features and vectors.
func (e *Engine) steering(em *engineModel, m *transformer.Model, req features.SteerRequest) (*transformer.Steering, error) {
	method := transformer.SteerMethod(req.Method)
	if req.Method == "" {
		method = transformer.SimpleAdditive
	}
	st := &transformer.Steering{Method: method}
	if method != transformer.SimpleAdditive && method != transformer.OrthogonalDecomp {
		return nil, features.Errorf(features.EINVALID, "field \"steer_method\": %q is not supported (SIMPLE_ADDITIVE or ORTHOGONAL_DECOMP)", req.Method)
	}
	mult := req.StrengthMultiplier
	coeff := func(field string, s float64) (float64, error) {
		c := s * mult
		if math.IsNaN(c) || math.IsInf(c, 0) || math.Abs(c) > maxSteerCoeff {
			return 0, features.Errorf(features.EINVALID, "field %q: strength × strength_multiplier must be finite and at most %g in size", field, float64(maxSteerCoeff))
		}
		return c, nil
	}
	add := func(field string, h transformer.Hook, v []float32, strength float64) error {
		c, err := coeff(field+".strength", strength)
		if err != nil {
			return err
		}
		if req.NormalizeSteering {
			var n2 float64
			for _, x := range v {
				n2 += float64(x) * float64(x)
			}
			if n2 == 0 {
				return features.Errorf(features.EINVALID, "field %q: zero vector cannot be normalized", field)
			}
			inv := float32(1 / math.Sqrt(n2))
			nv := make([]float32, len(v))
			for i, x := range v {
				nv[i] = x * inv
			}
			v = nv
		}
		st.Vectors = append(st.Vectors, transformer.SteerVector{Hook: h, Vector: v, Coeff: c})
		return nil
	}
	for i, f := range req.Features {
		field := fmt.Sprintf("features[%d]", i)
		e.mu.RLock()
		src := em.sources[f.SourceID]
		e.mu.RUnlock()
		if src == nil {
			return nil, features.Errorf(features.EINVALID, "field %q: model %s has no loaded source %q to steer with", field+".layer", req.ModelID, f.SourceID)
		}
		h, v, err := SAESteerVector(src.sae, f.Index)
		if err != nil {
			return nil, features.Errorf(features.EINVALID, "field %q: %v", field+".index", err)
		}
		if err := add(field, h, v, f.Strength); err != nil {
			return nil, err
		}
	}
	for i, v := range req.Vectors {
		field := fmt.Sprintf("vectors[%d]", i)
		h, err := transformer.ParseHook(v.Hook)
		if err == nil {
			err = m.CheckHook(h)
		}
		if err != nil {
			return nil, features.Errorf(features.EINVALID, "field %q: %v", field+".hook", err)
		}
		if w := m.HookWidth(h); len(v.Vector) != w {
			return nil, features.Errorf(features.EINVALID, "field %q: %d values, but hook %s is %d wide", field+".vector", len(v.Vector), v.Hook, w)
		}
		if err := add(field, h, v.Vector, v.Strength); err != nil {
			return nil, err
		}
	}
	if len(st.Vectors) == 0 && containsType(req.Types, features.SteerSteered) {
		return nil, features.Errorf(features.EINVALID, "field \"features\": no features or vectors to steer with")
	}
	if !req.SteerSpecialTokens {
		st.Skip = func(id int) bool {
			return em.tok.IsSpecial(id) || id == m.Cfg.BOSTokenID || id == m.Cfg.EOSTokenID
		}
	}
	if err := st.Validate(m); err != nil {
		return nil, features.Errorf(features.EINVALID, "field \"features\": %v", err)
	}
	return st, nil
}

func containsType(types []string, t string) bool {
	for _, x := range types {
		if strings.EqualFold(x, t) {
			return true
		}
	}
	return false
}
