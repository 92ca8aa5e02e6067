package web

import (
	"math"
	"testing"
	"unicode/utf8"

	"saex/internal/features"
)

// Fuzz targets for the bodies of the model, source-set, vector and list
// routes (issue 12): bad input is only ever a 400 or a 413 naming a field,
// and what is accepted satisfies what the store and the pages assume.

func FuzzDecodeModelNew(f *testing.F) {
	for _, s := range []string{
		`{"id":"pup-xl","layers":3,"displayName":"Puppy Model XL","url":null}`,
		`{"id":"gemma-2.2b","layers":"26","url":"https://deepmind.google/"}`,
		`{"id":"Bad","layers":3}`, `{"id":"a--b","layers":3}`, `{"id":"ok","layers":128}`, `{"id":"ok","layers":2.5}`,
		`{"id":"ok","layers":3,"url":"javascript:alert(1)"}`, `{"id":"ok","layers":3,"displayName":""}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var req modelNewRequest
		if err := decodeBody(body, &req); err != nil {
			wantClientError(t, "decode", err)
			return
		}
		m, err := req.model("owner")
		if err != nil {
			wantClientError(t, "model", err)
			return
		}
		if !features.ValidID(m.ID) || len(m.ID) > maxModelIDLen || m.Layers < 1 || m.Layers > maxModelLayers ||
			m.DisplayName == "" || !utf8.ValidString(m.DisplayName) || m.CreatorID != "owner" {
			t.Fatalf("invalid model accepted: %+v", m)
		}
	})
}

func FuzzDecodeSourceSetNew(f *testing.F) {
	for _, s := range []string{
		`{"name":"puppyscope-res-2k","modelId":"pup-xl","description":null,"url":null}`,
		`{"name":"res-jb","modelId":"gpt2-small","description":"Residual Stream","url":"https://huggingface.co/x"}`,
		`{"name":"neurons","modelId":"m"}`, `{"name":"-x","modelId":"m"}`, `{"name":"x","modelId":"a/b"}`, `{"name":"x"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var req sourceSetNewRequest
		if err := decodeBody(body, &req); err != nil {
			wantClientError(t, "decode", err)
			return
		}
		set, err := req.sourceSet("owner", "name")
		if err != nil {
			wantClientError(t, "source set", err)
			return
		}
		// Every source "{layer}-{name}" of a model of at most 127 layers is a valid id.
		if !features.ValidID(set.ModelID) || !features.ValidID("126-"+set.Name) || set.Name == "neurons" || len(set.URLs) > 1 {
			t.Fatalf("invalid source set accepted: %+v", set)
		}
	})
}

func FuzzDecodeVectorNew(f *testing.F) {
	for _, s := range []string{
		`{"modelId":"gemma-2-2b-it","layerNumber":20,"hookType":"hook_resid_pre","vector":[0.1,-0.2,0.3],"vectorDefaultSteerStrength":44,"vectorLabel":"dinosaurs"}`,
		`{"modelId":"m","layerNumber":"1","hookType":"hook_resid_post","vector":[1],"vectorDefaultSteerStrength":-300,"vectorLabel":"x"}`,
		`{"modelId":"m","layerNumber":-1,"hookType":"hook_resid_pre","vector":[1],"vectorDefaultSteerStrength":1,"vectorLabel":"x"}`,
		`{"modelId":"m","layerNumber":0,"hookType":"hook_z","vector":[1],"vectorDefaultSteerStrength":1,"vectorLabel":"x"}`,
		`{"modelId":"m","layerNumber":0,"hookType":"hook_resid_pre","vector":[],"vectorDefaultSteerStrength":1,"vectorLabel":"x"}`,
		`{"modelId":"m","layerNumber":0,"hookType":"hook_resid_pre","vector":[1e400],"vectorDefaultSteerStrength":1,"vectorLabel":"x"}`,
		`{"modelId":"m","layerNumber":0,"hookType":"hook_resid_pre","vector":[1],"vectorDefaultSteerStrength":301,"vectorLabel":""}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var req vectorNewRequest
		if err := decodeBody(body, &req); err != nil {
			wantClientError(t, "decode", err)
			return
		}
		v, err := req.vector("owner")
		if err != nil {
			wantClientError(t, "vector", err)
			return
		}
		_, hook := features.VectorSourceSetSuffix[v.HookType]
		if !features.ValidID(v.ModelID) || v.Layer < 0 || !hook || len(v.Values) == 0 || len(v.Values) > maxVectorLen ||
			!finite(v.Values) || math.Abs(v.DefaultSteerStrength) > maxSteerStrength || v.Label == "" || !utf8.ValidString(v.Label) {
			t.Fatalf("invalid vector accepted: %+v", v)
		}
	})
}

func FuzzDecodeListBodies(f *testing.F) {
	for _, s := range []string{
		`{"listId":"labc","featuresToAdd":[{"modelId":"pup-xl","layer":"1-puppyscope-res-2k","index":"0","description":"the dog one"},{"modelId":"m","source":"0-x","index":3}]}`,
		`{"listId":"l","featuresToAdd":[]}`, `{"listId":"l"}`, `{"featuresToAdd":[{"modelId":"m","layer":"0-x","index":1}]}`,
		`{"listId":"l","featuresToAdd":[{"modelId":"m","layer":"0-x","index":"x"}]}`,
		`{"name":"dogs and cats","description":"","testText":"hello"}`, `{"name":"  "}`, `{"name":"x","testText":""}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var add listAddRequest
		if err := decodeBody(body, &add); err != nil {
			wantClientError(t, "decode add", err)
		} else if ms, err := add.members(); err != nil {
			wantClientError(t, "members", err)
		} else {
			if add.ListID == "" || len(ms) == 0 || len(ms) > maxListAdd {
				t.Fatalf("accepted %d members for list %q", len(ms), add.ListID)
			}
			for _, m := range ms {
				if m.Key().Validate() != nil || !utf8.ValidString(m.Description) {
					t.Fatalf("invalid member accepted: %+v", m)
				}
			}
		}
		var nl listNewRequest
		if err := decodeBody(body, &nl); err != nil {
			wantClientError(t, "decode new", err)
		} else if l, err := nl.list("owner"); err != nil {
			wantClientError(t, "list", err)
		} else if l.Name == "" || !utf8.ValidString(l.Name) || (l.DefaultTestText != nil && *l.DefaultTestText == "") {
			t.Fatalf("invalid list accepted: %+v", l)
		}
	})
}
