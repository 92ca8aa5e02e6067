package transformer

import (
	"fmt"
	"math"
)

// SteerMethod is how a steering vector changes the activations, by
// Neuronpedia's names.
type SteerMethod string

// The steering methods.
//
// SIMPLE_ADDITIVE adds c·v to every steered row h (c = strength ×
// strength_multiplier, v the vector as given: an SAE's W_dec[index]).
//
// ORTHOGONAL_DECOMP, as Neuronpedia's inference server defines it
// (OrthogonalDecompSpec: "h -> (I-P)h + coeff*P h", P the projection onto
// v's direction), keeps the part of h orthogonal to v and scales the part
// along v by c: with u = v/|v|, h' = h + (c-1)(h·u)u. Only v's direction
// matters; a zero vector is an error.
const (
	SimpleAdditive   SteerMethod = "SIMPLE_ADDITIVE"
	OrthogonalDecomp SteerMethod = "ORTHOGONAL_DECOMP"
)

// SteerVector is one direction applied at one hook with coefficient
// Coeff (strength × strength_multiplier).
type SteerVector struct {
	Hook   Hook
	Vector []float32
	Coeff  float64
}

// Steering is an Intervention applying vectors at their hooks, at every
// position of the prompt and of every generated token, as Neuronpedia
// does; rows whose token Skip reports (the special tokens, when
// steer_special_tokens is false) are left alone.
type Steering struct {
	Method  SteerMethod
	Vectors []SteerVector
	Skip    func(id int) bool

	hooks []Hook
}

// Validate checks the steering against a model: a known method, hooks the
// Decoder can intervene at, vectors of the hook's width with finite values,
// finite coefficients, no zero vector under ORTHOGONAL_DECOMP. Errors name
// the vector by its index.
func (s *Steering) Validate(m *Model) error {
	switch s.Method {
	case SimpleAdditive, OrthogonalDecomp:
	case "":
		s.Method = SimpleAdditive
	default:
		return fmt.Errorf("steer_method %q is not supported (SIMPLE_ADDITIVE or ORTHOGONAL_DECOMP)", s.Method)
	}
	s.hooks = s.hooks[:0]
	seen := map[Hook]bool{}
	for i, v := range s.Vectors {
		if err := m.CheckHook(v.Hook); err != nil {
			return fmt.Errorf("vector %d: %w", i, err)
		}
		switch v.Hook.Kind {
		case HookResidPre, HookResidMid, HookResidPost, HookAttnZ, HookAttnOut, HookMLPPost, HookMLPOut:
		default:
			return fmt.Errorf("vector %d: cannot steer at hook %s", i, v.Hook)
		}
		if w := m.HookWidth(v.Hook); len(v.Vector) != w {
			return fmt.Errorf("vector %d: %d values, but hook %s is %d wide", i, len(v.Vector), v.Hook, w)
		}
		if math.IsNaN(v.Coeff) || math.IsInf(v.Coeff, 0) {
			return fmt.Errorf("vector %d: strength is not finite", i)
		}
		var n2 float64
		for j, x := range v.Vector {
			if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
				return fmt.Errorf("vector %d: value %d is not finite", i, j)
			}
			n2 += float64(x) * float64(x)
		}
		if s.Method == OrthogonalDecomp && n2 == 0 {
			return fmt.Errorf("vector %d: zero vector cannot be used with ORTHOGONAL_DECOMP", i)
		}
		if !seen[v.Hook] {
			seen[v.Hook] = true
			s.hooks = append(s.hooks, v.Hook)
		}
	}
	return nil
}

// Hooks returns the hooks the vectors are applied at (after Validate).
func (s *Steering) Hooks() []Hook { return s.hooks }

// Apply applies the vectors for h to the rows of x in the order given.
func (s *Steering) Apply(h Hook, x []float32, width int, ids []int, _ int) {
	for _, v := range s.Vectors {
		if v.Hook != h {
			continue
		}
		var inv float64
		if s.Method == OrthogonalDecomp {
			var n2 float64
			for _, e := range v.Vector {
				n2 += float64(e) * float64(e)
			}
			inv = 1 / n2
		}
		for r, id := range ids {
			if s.Skip != nil && s.Skip(id) {
				continue
			}
			row := x[r*width : (r+1)*width]
			switch s.Method {
			case OrthogonalDecomp:
				// h + (c-1)(h·v)v/|v|²
				var dot float64
				for j, e := range v.Vector {
					dot += float64(row[j]) * float64(e)
				}
				f := float32((v.Coeff - 1) * dot * inv)
				for j, e := range v.Vector {
					row[j] += f * e
				}
			default:
				c := float32(v.Coeff)
				for j, e := range v.Vector {
					row[j] += c * e
				}
			}
		}
	}
}
