package tokenizer

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// variant is a real tokenizer.json with some components replaced, and
// Hugging Face's ids and offsets for it (testdata/gen_variants.mjs).
type variant struct {
	Name  string                     `json:"name"`
	Base  string                     `json:"base"`
	Patch map[string]json.RawMessage `json:"patch"`
	Cases []familyCase               `json:"cases"`
}

func readTokenizerJSON(t testing.TB, base string) []byte {
	t.Helper()
	f, err := os.Open(filepath.Join(root, "testdata", "tokenizers", base, "tokenizer.json.gz"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	data, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// applyPatch mirrors gen_variants.mjs: top-level keys are replaced,
// "model" keys are merged into the model, "added_tokens_extra" is
// appended to added_tokens.
func applyPatch(t testing.TB, data []byte, patch map[string]json.RawMessage) []byte {
	t.Helper()
	var top map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil {
		t.Fatal(err)
	}
	for k, v := range patch {
		switch k {
		case "model":
			var model, add map[string]json.RawMessage
			if err := json.Unmarshal(top["model"], &model); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(v, &add); err != nil {
				t.Fatal(err)
			}
			for mk, mv := range add {
				model[mk] = mv
			}
			top["model"] = mustMarshal(t, model)
		case "added_tokens_extra":
			var added, extra []json.RawMessage
			if err := json.Unmarshal(top["added_tokens"], &added); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(v, &extra); err != nil {
				t.Fatal(err)
			}
			top["added_tokens"] = mustMarshal(t, append(added, extra...))
		default:
			top[k] = v
		}
	}
	return mustMarshal(t, top)
}

func mustMarshal(t testing.TB, v any) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func loadVariants(t testing.TB) []variant {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "variants.json"))
	if err != nil {
		t.Fatal(err)
	}
	var v struct {
		Variants []variant `json:"variants"`
	}
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatal(err)
	}
	return v.Variants
}

// TestVariantsGolden checks the components the three real files do not
// use against Hugging Face: ids in both modes and offsets.
func TestVariantsGolden(t *testing.T) {
	if testing.Short() {
		t.Skip("loads seven large tokenizers")
	}
	bases := map[string][]byte{}
	for _, v := range loadVariants(t) {
		t.Run(v.Name, func(t *testing.T) {
			if bases[v.Base] == nil {
				bases[v.Base] = readTokenizerJSON(t, v.Base)
			}
			tok, err := FromJSON(v.Name, applyPatch(t, bases[v.Base], v.Patch))
			if err != nil {
				t.Fatal(err)
			}
			bad := 0
			for i, c := range v.Cases {
				if c.IDs == nil {
					c.IDs = []int{}
				}
				if c.IDsNoSpecial == nil {
					c.IDsNoSpecial = []int{}
				}
				if c.Offsets == nil {
					c.Offsets = [][2]int{}
				}
				ids, offs := tok.EncodeSpecial(c.Text)
				ns, _ := tok.Encode(c.Text)
				switch {
				case !reflect.DeepEqual(ids, c.IDs):
					t.Errorf("case %d %q: ids\n got %v\nwant %v", i, c.Text, ids, c.IDs)
				case !reflect.DeepEqual(offs, c.Offsets):
					t.Errorf("case %d %q: offsets\n got %v\nwant %v", i, c.Text, offs, c.Offsets)
				case !reflect.DeepEqual(ns, c.IDsNoSpecial):
					t.Errorf("case %d %q: ids without special tokens\n got %v\nwant %v", i, c.Text, ns, c.IDsNoSpecial)
				default:
					continue
				}
				if bad++; bad > 5 {
					t.Fatal("too many failures")
				}
			}
		})
	}
}
