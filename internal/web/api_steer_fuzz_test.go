package web

import (
	"math"
	"testing"
	"unicode/utf8"
)

// FuzzDecodeSteer: any body either fails as a client error or yields a
// request within Neuronpedia's bounds.
func FuzzDecodeSteer(f *testing.F) {
	for _, s := range []string{
		`{"prompt":"The most iconic structure on Earth is","modelId":"gemma-2-2b","features":[{"modelId":"gemma-2-2b","layer":"20-gemmascope-res-16k","index":3124,"strength":38.5}],"temperature":0.5,"n_tokens":48,"seed":16,"strength_multiplier":4,"steer_method":"SIMPLE_ADDITIVE","freq_penalty":1,"stream":false}`,
		`{"prompt":"x","modelId":"m","vectors":[{"vector":[1,2,3],"strength":-2,"hook":"blocks.0.hook_resid_post"}],"steer_method":"ORTHOGONAL_DECOMP"}`,
		`{"prompt":"x","modelId":"m","features":[{"layer":"1-x","index":"7","strength":1e300}]}`,
		`{"prompt":"x","modelId":"m","features":[{"layer":"1-x","index":1,"strength":1}],"n_tokens":2.5}`,
		`{"prompt":"","modelId":"m"}`,
		`{"prompt":"x","modelId":"m","features":[],"vectors":[{"vector":[1e39],"strength":1,"hook":"h"}]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var raw steerRequest
		if err := decodeBody(body, &raw); err != nil {
			wantClientError(t, "decode", err)
			return
		}
		req, err := parseSteerRequest(&raw)
		if err != nil {
			wantClientError(t, "parse", err)
			return
		}
		switch {
		case req.Prompt == "" || !utf8.ValidString(req.Prompt) || utf8.RuneCountInString(req.Prompt) > maxSteerPromptChars:
			t.Fatalf("prompt %q accepted", req.Prompt)
		case req.NTokens < 1 || req.NTokens > maxSteerTokens:
			t.Fatalf("n_tokens %d accepted", req.NTokens)
		case req.Temperature < 0 || req.Temperature > maxSteerTemperature || math.IsNaN(req.Temperature):
			t.Fatalf("temperature %v accepted", req.Temperature)
		case req.StrengthMultiplier < 0 || req.StrengthMultiplier > maxSteerMultiplier:
			t.Fatalf("strength_multiplier %v accepted", req.StrengthMultiplier)
		case len(req.Features)+len(req.Vectors) == 0:
			t.Fatal("nothing to steer with accepted")
		}
		for _, ft := range req.Features {
			if math.IsNaN(ft.Strength) || math.Abs(ft.Strength) > maxSteerAbsStrength || ft.Index < 0 {
				t.Fatalf("feature %+v accepted", ft)
			}
		}
		for _, v := range req.Vectors {
			for _, x := range v.Vector {
				if math.IsInf(float64(x), 0) || math.IsNaN(float64(x)) {
					t.Fatalf("vector value %v accepted", x)
				}
			}
		}
	})
}
