package web

import (
	"bytes"
	"context"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/go-chi/chi/v5"

	"saex/internal/features"
)

// Fuzz targets for the JSON API's request decoders: each runs a body
// through decodeJSON and the same field parsers and validators the handler
// runs before it touches a service, and checks that bad input is only ever
// a 400 or a 413 (never a panic, a 5xx code or an accepted value that
// breaks the handler's assumptions). Seeds are realistic requests of
// Neuronpedia's clients plus malformed ones; the committed corpus is in
// testdata/fuzz. scripts/test.sh runs each for a bounded time.

// fuzzLimit is a small body cap, so the fuzzer reaches the 413 path.
const fuzzLimit = 4 << 10

// decodeBody runs decodeJSON over body as the handlers do.
func decodeBody(body []byte, v any) error {
	r := httptest.NewRequest(http.MethodPost, "/api/x", bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	return decodeJSON(httptest.NewRecorder(), r, fuzzLimit, v)
}

// wantClientError fails unless err is nil or a 400/413 with a message.
func wantClientError(t *testing.T, what string, err error) {
	t.Helper()
	if err == nil {
		return
	}
	code := features.ErrorCode(err)
	if st := statusOf(code); st != http.StatusBadRequest && st != http.StatusRequestEntityTooLarge {
		t.Fatalf("%s: status %d (%s) for bad input: %v", what, st, code, err)
	}
	if msg := features.ErrorMessage(err); msg == "" || msg == "internal error" || !utf8.ValidString(msg) {
		t.Fatalf("%s: unhelpful message %q", what, msg)
	}
}

// checkTexts validates a parsed text-or-list field's invariants.
func checkTexts(t *testing.T, field string, texts []string, maxN int) {
	t.Helper()
	if len(texts) == 0 || len(texts) > maxN {
		t.Fatalf("%s: accepted %d texts (max %d)", field, len(texts), maxN)
	}
	for _, s := range texts {
		if s == "" {
			t.Fatalf("%s: accepted an empty text", field)
		}
	}
}

func FuzzDecodeSearchAll(f *testing.F) {
	for _, s := range []string{
		`{"modelId":"gpt2-small","sourceSet":"res-jb","text":"The cat sat on the mat","selectedLayers":["6-res-jb"],"sortIndexes":[],"ignoreBos":true,"densityThreshold":-1,"numResults":50}`,
		`{"modelId":"demo-gpt2-4l","text":["def main():","import os"],"sortIndexes":[1,2],"densityThreshold":0.01}`,
		`{"modelId":"m","text":"x","numResults":0}`,
		`{"modelId":"m","text":"x","numResults":1e400}`,
		`{"modelId":"m","text":"x","densityThreshold":1.5}`,
		`{"modelId":"m","text":[],"sortIndexes":[-1]}`,
		`{"modelId":"m","text":null}`,
		`{"modelId":"m","text":{"a":1}}`,
		`{"text":"x"} trailing`,
		`[1,2,3]`,
		"",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var req searchAllRequest
		if err := decodeBody(body, &req); err != nil {
			wantClientError(t, "decode", err)
			return
		}
		texts, _, err := parseTexts("text", req.Text, maxTextsPerRequest)
		if err != nil {
			wantClientError(t, "text", err)
			return
		}
		checkTexts(t, "text", texts, maxTextsPerRequest)
		if req.NumResults != nil && (*req.NumResults < 1 || *req.NumResults > maxSearchResults) {
			wantClientError(t, "numResults", invalidField("numResults", "out of range"))
		}
		if req.DensityThreshold != nil {
			if err := checkDensity("densityThreshold", *req.DensityThreshold); err != nil {
				wantClientError(t, "densityThreshold", err)
			} else if math.IsNaN(*req.DensityThreshold) {
				t.Fatal("NaN density accepted") // JSON cannot carry NaN; a decoder change would show here
			}
		}
	})
}

func FuzzDecodeActivationNew(f *testing.F) {
	for _, s := range []string{
		`{"feature":{"modelId":"gpt2-small","source":"6-res-jb","index":"12"},"customText":"The quick brown fox"}`,
		`{"neuron":{"modelId":"gpt2-small","layer":"6-res-jb","index":12},"customText":["a","b"],"ignoreBos":true}`,
		`{"feature":{"modelId":"m","source":"1-x","index":12.5},"customText":"x"}`,
		`{"feature":{"modelId":"m","source":"1-x","index":-3},"customText":"x"}`,
		`{"feature":{"modelId":"m","source":"1-x","index":"1e9999"},"customText":"x"}`,
		`{"feature":{"modelId":"../etc","source":"1-x","index":1},"customText":"x"}`,
		`{"feature":{"modelId":"m","source":"1-x","index":1},"customText":["",""]}`,
		`{"feature":null}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var req activationNewRequest
		if err := decodeBody(body, &req); err != nil {
			wantClientError(t, "decode", err)
			return
		}
		ref, field := req.Feature, "feature"
		if ref == nil {
			ref, field = req.Neuron, "neuron"
		}
		if ref == nil {
			return
		}
		idx, err := parseIndex(field+".index", ref.Index)
		if err != nil {
			wantClientError(t, "index", err)
			return
		}
		if idx < 0 || idx > math.MaxInt32 {
			t.Fatalf("index %d accepted", idx)
		}
		src := ref.Source
		if src == "" {
			src = ref.Layer
		}
		key := features.FeatureKey{ModelID: ref.ModelID, SourceID: src, Index: idx}
		if err := key.Validate(); err != nil {
			wantClientError(t, "key", err)
			return
		}
		if strings.ContainsAny(key.ModelID+key.SourceID, "/\\ \x00%'\"") {
			t.Fatalf("id with path or SQL metacharacters accepted: %v", key)
		}
		texts, _, err := parseTexts("customText", req.CustomText, maxTextsPerRequest)
		if err != nil {
			wantClientError(t, "customText", err)
			return
		}
		checkTexts(t, "customText", texts, maxTextsPerRequest)
	})
}

func FuzzDecodeActivationSource(f *testing.F) {
	for _, s := range []string{
		`{"modelId":"gpt2-small","source":"6-res-jb","customText":"hello"}`,
		`{"modelId":"gpt2-small","layer":"6-res-jb","customText":["a","b","c","d","e"]}`,
		`{"modelId":"","source":"","customText":""}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var req activationSourceRequest
		if err := decodeBody(body, &req); err != nil {
			wantClientError(t, "decode", err)
			return
		}
		texts, _, err := parseTexts("customText", req.CustomText, maxSourceTexts)
		if err != nil {
			wantClientError(t, "customText", err)
			return
		}
		checkTexts(t, "customText", texts, maxSourceTexts)
	})
}

func FuzzDecodeTopkByToken(f *testing.F) {
	for _, s := range []string{
		`{"modelId":"gpt2-small","source":"6-res-jb","text":"Hello world","numResults":10,"ignoreBos":true,"densityThreshold":0.01}`,
		`{"modelId":"m","layer":"1-x","text":["a"],"numResults":21}`,
		`{"modelId":"m","layer":"1-x","text":"a","densityThreshold":-2}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var req topkByTokenRequest
		if err := decodeBody(body, &req); err != nil {
			wantClientError(t, "decode", err)
			return
		}
		texts, _, err := parseTexts("text", req.Text, maxTextsPerRequest)
		if err != nil {
			wantClientError(t, "text", err)
			return
		}
		checkTexts(t, "text", texts, maxTextsPerRequest)
		if req.DensityThreshold != nil {
			wantClientError(t, "densityThreshold", checkDensity("densityThreshold", *req.DensityThreshold))
		}
	})
}

func FuzzDecodeExplanationSearch(f *testing.F) {
	for _, s := range []string{
		`{"modelId":"gpt2-small","layers":["6-res-jb"],"query":"parts of the body","offset":0}`,
		`{"query":"'; DROP TABLE features; --"}`,
		`{"query":"%_%","offset":-1}`,
		`{"query":"ab"}`,
		`{"query":"\u0000\u0000\u0000"}`,
		`{"query":"x","layers":"6-res-jb"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var req explanationSearchRequest
		if err := decodeBody(body, &req); err != nil {
			wantClientError(t, "decode", err)
			return
		}
		q, err := validateQuery("query", req.Query)
		if err != nil {
			wantClientError(t, "query", err)
			return
		}
		if n := utf8.RuneCountInString(q); n < 3 || n > maxQueryLen {
			t.Fatalf("query of %d characters accepted", n)
		}
		for _, l := range req.Layers {
			if !features.ValidID(l) {
				wantClientError(t, "layers", invalidField("layers", "invalid"))
			}
		}
	})
}

func FuzzDecodeFeatures(f *testing.F) {
	for _, s := range []string{
		`[{"modelId":"gpt2-small","layer":"6-res-jb","index":"12"},{"modelId":"gpt2-small","source":"6-res-jb","index":13,"maxActsToReturn":5}]`,
		`[]`,
		`[{"modelId":"m","layer":"1-x","index":"x"}]`,
		`[{"modelId":"m","layer":"1-x","index":1,"maxActsToReturn":-1}]`,
		`{"modelId":"m"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var req []batchFeatureRequest
		if err := decodeBody(body, &req); err != nil {
			wantClientError(t, "decode", err)
			return
		}
		for i, q := range req {
			if _, err := parseIndex(fieldAt("index", i), q.Index); err != nil {
				wantClientError(t, "index", err)
				return
			}
		}
	})
}

func FuzzDecodeFeatureUpload(f *testing.F) {
	for _, s := range []string{
		`{"modelId":"gpt2-small","source":"6-res-mine","features":[{"index":0,"density":0.01,"topLogits":[{"token":" the","value":1.2}],"bottomLogits":[{"token":"x","value":-1}],"explanations":[{"text":"the word the","methodName":"manual","modelName":"human"}],"activations":[{"tokens":["a"," the","b"],"values":[0,2.5,0.1],"quantileMax":3,"quantileMin":2,"quantileFraction":0.5}]}]}`,
		`{"modelId":"m","source":"1-x","features":[{"index":"7","activations":[{"tokens":["a"],"values":[1,2]}]}]}`,
		`{"modelId":"m","source":"1-x","features":[{"index":1,"density":2,"activations":[{"tokens":["a"],"values":[1]}]}]}`,
		`{"modelId":"m","source":"1-x","features":[{"index":1,"activations":[{"tokens":["a"],"values":[1e39]}]}]}`,
		`{"modelId":"m","source":"1-x","features":[{"index":1,"activations":[{"tokens":["a"],"values":[1],"quantileFraction":-0.1}]}]}`,
		`{"modelId":"m","source":"1-x","features":[{"index":1,"explanations":[{"text":""}],"activations":[{"tokens":["a"],"values":[1]}]}]}`,
		`{"modelId":"m","source":"1-x","features":[]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var req featureUploadRequest
		if err := decodeBody(body, &req); err != nil {
			wantClientError(t, "decode", err)
			return
		}
		for i, u := range req.Features {
			ft, err := buildFeature(i, "m", "1-x", u)
			if err != nil {
				wantClientError(t, "feature", err)
				return
			}
			if ft.Index < 0 || len(ft.Activations) == 0 || ft.FracNonzero < 0 || ft.FracNonzero > 1 || len(ft.PosStr) != len(ft.PosValues) {
				t.Fatalf("invalid feature accepted: %+v", ft)
			}
			for _, a := range ft.Activations {
				if len(a.Tokens) == 0 || len(a.Tokens) != len(a.Values) || !finite(a.Values) || a.MaxValueTokenIndex >= len(a.Values) {
					t.Fatalf("invalid example accepted: %+v", a)
				}
			}
			for _, e := range ft.Explanations {
				if e.Description == "" || e.TypeName == "" {
					t.Fatalf("invalid explanation accepted: %+v", e)
				}
			}
		}
	})
}

func FuzzDecodeActivationUpload(f *testing.F) {
	for _, s := range []string{
		`{"modelId":"gpt2-small","source":"6-res-jb","index":"12","activations":[{"tokens":["a","b"],"values":[0.5,1]}]}`,
		`{"modelId":"m","source":"1-x","index":1,"activations":[{"tokens":[],"values":[]}]}`,
		`{"modelId":"m","source":"1-x","index":1,"activations":[{"tokens":["a"],"values":["x"]}]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var req activationUploadRequest
		if err := decodeBody(body, &req); err != nil {
			wantClientError(t, "decode", err)
			return
		}
		idx, err := parseIndex("index", req.Index)
		if err != nil {
			wantClientError(t, "index", err)
			return
		}
		key := features.FeatureKey{ModelID: "m", SourceID: "1-x", Index: idx}
		for i, a := range req.Activations {
			act, err := buildActivation("activations"+fieldAt("", i), key, a)
			if err != nil {
				wantClientError(t, "activation", err)
				return
			}
			if len(act.Tokens) != len(act.Values) || act.MaxValue < act.MinValue {
				t.Fatalf("invalid example accepted: %+v", act)
			}
		}
	})
}

func FuzzPromptForm(f *testing.F) {
	for _, s := range []string{
		"text=The+cat+sat&rank=max&n=20&source=1-res-topk&source=2-res-topk",
		"text=hello&rank=sum&pos=1&pos=2",
		"text=&n=0",
		"text=x&n=abc&pos=-1",
		"text=%ZZ",
		"source=..%2F..&text=x",
	} {
		f.Add([]byte(s))
	}
	s := NewServer()
	s.MaxBodyBytes = fuzzLimit
	f.Fuzz(func(t *testing.T, body []byte) {
		r := httptest.NewRequest(http.MethodPost, "/m/prompt", bytes.NewReader(body))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		form, err := s.parsePromptForm(httptest.NewRecorder(), r)
		if err != nil {
			wantClientError(t, "form", err)
			return
		}
		if strings.TrimSpace(form.Text) == "" || form.N < 1 || form.N > maxSearchResults || (form.Rank != "max" && form.Rank != "sum") {
			t.Fatalf("invalid form accepted: %+v", form)
		}
		for _, src := range form.Sources {
			if !features.ValidSourceID(src) {
				t.Fatalf("source %q accepted", src)
			}
		}
	})
}

// FuzzPagePathAndQuery runs the pages' path and query parsers (the feature
// path's model, source and index; ?page=, ?q=, ?jump=; form token
// positions) over arbitrary values: errors are 4xx naming the field, and
// what is accepted fits the store (ids valid, indices and pages in range,
// text valid UTF-8 within the cap).
func FuzzPagePathAndQuery(f *testing.F) {
	for _, s := range [][4]string{
		{"gpt2-small", "6-res-jb", "12", "page=2&q=cat&jump=7"},
		{"m", "99999999999-res-x", "4294967296", "page=9223372036854775807"},
		{"m", "1-x", "-1", "q=%FF%FE&page=-1"},
		{"..", "a/b", "1e3", "q=" + strings.Repeat("é", 600)},
		{"m\x00", "\xff", "18446744073709551616", "jump=2147483648&page=%20"},
	} {
		f.Add(s[0], s[1], s[2], s[3])
	}
	f.Fuzz(func(t *testing.T, model, source, index, rawQuery string) {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		rctx := chi.NewRouteContext()
		rctx.URLParams.Add("model", model)
		rctx.URLParams.Add("source", source)
		rctx.URLParams.Add("index", index)
		r = r.WithContext(context.WithValue(r.Context(), chi.RouteCtxKey, rctx))
		key, err := pathKey(r)
		if err != nil {
			wantClientError(t, "path", err)
			if !strings.Contains(features.ErrorMessage(err), `field "`) {
				t.Fatalf("path error names no field: %v", err)
			}
		} else if key.Validate() != nil || key.Index > features.MaxIndex {
			t.Fatalf("path key accepted: %+v", key)
		}
		q, err := url.ParseQuery(rawQuery)
		if err != nil {
			return // the router has already refused such a query
		}
		if page, err := pageNumber(q); err != nil {
			wantClientError(t, "page", err)
		} else if page < 1 || page > maxPage {
			t.Fatalf("page %d accepted", page)
		}
		if text, err := filterText("q", q.Get("q")); err != nil {
			wantClientError(t, "q", err)
		} else if !utf8.ValidString(text) || strings.ContainsRune(text, 0) || utf8.RuneCountInString(text) > maxQueryLen {
			t.Fatalf("filter %q accepted", text)
		}
		if j := q.Get("jump"); j != "" {
			if idx, err := features.ParseIndex(j); err == nil && !features.ValidIndex(idx) {
				t.Fatalf("jump %d accepted", idx)
			}
		}
		if pos, err := tokenPosition("pos", q.Get("pos")); err != nil {
			wantClientError(t, "pos", err)
		} else if pos < 0 || pos > maxTokenPosition {
			t.Fatalf("position %d accepted", pos)
		}
	})
}
