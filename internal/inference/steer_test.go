package inference

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"

	"saex/internal/compute/transformer"
	"saex/internal/features"
)

func steerReq() features.SteerRequest {
	return features.SteerRequest{
		ModelID: "demo-gpt2-4l", Prompt: "The quick brown fox",
		Features:           []features.SteerFeature{{SourceID: "2-res-topk", Index: 5, Strength: 4}},
		Types:              []string{features.SteerSteered, features.SteerDefault},
		NTokens:            12,
		StrengthMultiplier: 2,
		SteerSpecialTokens: true,
	}
}

// DEFAULT is plain greedy generation of BOS + prompt; STEERED is the same
// with strength × multiplier × W_dec[index] added at the SAE's hook, which
// is what the transformer package's steering gives for that vector.
func TestEngineSteer(t *testing.T) {
	e := loadDemoEngine(t)
	req := steerReq()
	var progress []string
	out, err := e.Steer(context.Background(), req, func(typ, text string) {
		if typ == features.SteerSteered {
			progress = append(progress, text)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	em := e.model(req.ModelID)
	m, err := steerModel(em)
	if err != nil {
		t.Fatal(err)
	}
	ids, _ := em.tok.Encode(req.Prompt)
	ids = append([]int{m.Cfg.BOSTokenID}, ids...)
	opt := transformer.GenerateOptions{NTokens: 12, Stop: []int{m.Cfg.EOSTokenID}}
	plain, err := m.Generate(context.Background(), ids, opt)
	if err != nil {
		t.Fatal(err)
	}
	if want := em.tok.Decode(plain); out[features.SteerDefault] != want {
		t.Fatalf("DEFAULT %q, want %q", out[features.SteerDefault], want)
	}
	s, _ := e.SAE(req.ModelID, "2-res-topk")
	h, v, _ := SAESteerVector(s, 5)
	opt.Steer = &transformer.Steering{Vectors: []transformer.SteerVector{{Hook: h, Vector: v, Coeff: 8}}}
	steered, err := m.Generate(context.Background(), ids, opt)
	if err != nil {
		t.Fatal(err)
	}
	if want := em.tok.Decode(steered); out[features.SteerSteered] != want {
		t.Fatalf("STEERED %q, want %q", out[features.SteerSteered], want)
	}
	if out[features.SteerSteered] == out[features.SteerDefault] {
		t.Fatalf("steering changed nothing: %q", out[features.SteerDefault])
	}
	if len(progress) != len(steered) || progress[len(progress)-1] != out[features.SteerSteered] {
		t.Fatalf("progress %q does not grow to the steered text", progress)
	}
	// Sampled runs repeat with their seed.
	req.Temperature, req.Seed, req.FreqPenalty = 1, 16, 1
	a, err1 := e.Steer(context.Background(), req, nil)
	b, err2 := e.Steer(context.Background(), req, nil)
	if err1 != nil || err2 != nil || a[features.SteerSteered] != b[features.SteerSteered] || a[features.SteerDefault] != b[features.SteerDefault] {
		t.Fatalf("seeded runs differ: %q %q (%v %v)", a, b, err1, err2)
	}
}

func TestEngineSteerErrors(t *testing.T) {
	e := loadDemoEngine(t)
	for _, c := range []struct {
		edit func(*features.SteerRequest)
		want string
	}{
		{func(r *features.SteerRequest) { r.Features[0].SourceID = "9-res-none" }, `features[0].layer`},
		{func(r *features.SteerRequest) { r.Features[0].Index = 1 << 20 }, `features[0].index`},
		{func(r *features.SteerRequest) { r.Features[0].Strength = math.NaN() }, `features[0].strength`},
		{func(r *features.SteerRequest) { r.Features[0].Strength = 1e300 }, `features[0].strength`},
		{func(r *features.SteerRequest) { r.Prompt = strings.Repeat("fox ", 300) }, `"prompt"`},
		{func(r *features.SteerRequest) { r.Method = "PROJECTION_CAP" }, `steer_method`},
		{func(r *features.SteerRequest) { r.Features = nil }, `no features or vectors`},
		{func(r *features.SteerRequest) {
			r.Vectors = []features.SteerVector{{Hook: "blocks.1.hook_resid_pre", Vector: make([]float32, 3), Strength: 1}}
		}, `vectors[0].vector`},
		{func(r *features.SteerRequest) {
			r.Vectors = []features.SteerVector{{Hook: "blocks.7.hook_resid_pre", Vector: make([]float32, 256), Strength: 1}}
		}, `vectors[0].hook`},
		{func(r *features.SteerRequest) { r.Temperature = -1 }, `temperature`},
	} {
		req := steerReq()
		req.Features = append([]features.SteerFeature(nil), req.Features...)
		c.edit(&req)
		_, err := e.Steer(context.Background(), req, nil)
		if err == nil || features.ErrorCode(err) != features.EINVALID || !strings.Contains(err.Error(), c.want) {
			t.Errorf("want EINVALID naming %s, got %v", c.want, err)
		}
	}
}

// A client that goes away stops the generation within a token.
func TestEngineSteerCancel(t *testing.T) {
	e := loadDemoEngine(t)
	ctx, cancel := context.WithCancel(context.Background())
	n := 0
	req := steerReq()
	req.NTokens = 100
	_, err := e.Steer(ctx, req, func(string, string) {
		n++
		if n == 2 {
			cancel()
		}
	})
	if !errors.Is(err, context.Canceled) || n != 2 {
		t.Fatalf("after cancel: %d tokens, err %v", n, err)
	}
}
