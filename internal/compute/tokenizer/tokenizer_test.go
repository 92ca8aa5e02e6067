package tokenizer

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

const root = "../../.."

var (
	gpt2Dir = filepath.Join(root, "testdata", "gpt2-tokenizer")
	demoDir = filepath.Join(root, "demo", "demo-gpt2-4l", "model")
)

type goldenCase struct {
	Text    string   `json:"text"`
	IDs     []int    `json:"ids"`
	Offsets [][2]int `json:"offsets"`
}

func loadGolden(t testing.TB, name string) []goldenCase {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, "testdata", "golden", "tokenizers", name))
	if err != nil {
		t.Fatal(err)
	}
	var g struct {
		Cases []goldenCase `json:"cases"`
	}
	if err := json.Unmarshal(data, &g); err != nil {
		t.Fatal(err)
	}
	if len(g.Cases) == 0 {
		t.Fatalf("%s: no cases", name)
	}
	return g.Cases
}

func mustLoad(t testing.TB, dir string) *Tokenizer {
	t.Helper()
	tok, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestGolden(t *testing.T) {
	for _, tc := range []struct{ golden, dir string }{
		{"gpt2.json", gpt2Dir},
		{"demo-gpt2-4l.json", demoDir},
	} {
		t.Run(tc.golden, func(t *testing.T) {
			tok := mustLoad(t, tc.dir)
			for i, c := range loadGolden(t, tc.golden) {
				ids, offs := tok.Encode(c.Text)
				if c.IDs == nil {
					c.IDs = []int{}
				}
				if c.Offsets == nil {
					c.Offsets = [][2]int{}
				}
				if !reflect.DeepEqual(ids, c.IDs) {
					t.Errorf("case %d %q: ids\n got %v\nwant %v", i, c.Text, ids, c.IDs)
					continue
				}
				if !reflect.DeepEqual(offs, c.Offsets) {
					t.Errorf("case %d %q: offsets\n got %v\nwant %v", i, c.Text, offs, c.Offsets)
				}
				if got := tok.Decode(ids); got != c.Text {
					t.Errorf("case %d: decode = %q, want %q", i, got, c.Text)
				}
			}
		})
	}
}

// The demo directory holds the same tokenizer in both forms; without the
// added token they must agree on every golden text that lacks it.
func TestTwoFileFormEqualsJSON(t *testing.T) {
	js := mustLoad(t, demoDir)
	vdata, err := os.ReadFile(filepath.Join(demoDir, "vocab.json"))
	if err != nil {
		t.Fatal(err)
	}
	mdata, err := os.ReadFile(filepath.Join(demoDir, "merges.txt"))
	if err != nil {
		t.Fatal(err)
	}
	two, err := FromFiles("vocab.json", vdata, "merges.txt", mdata)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range loadGolden(t, "demo-gpt2-4l.json") {
		if strings.Contains(c.Text, "<|endoftext|>") {
			continue
		}
		a, ao := js.Encode(c.Text)
		b, bo := two.Encode(c.Text)
		if !reflect.DeepEqual(a, b) || !reflect.DeepEqual(ao, bo) {
			t.Errorf("%q: tokenizer.json %v, vocab+merges %v", c.Text, a, b)
		}
	}
}

// Section 5.1 test vectors of docs/formats.md (from tiktoken r50k_base).
func TestGPT2Vectors(t *testing.T) {
	tok := mustLoad(t, gpt2Dir)
	for text, want := range map[string][]int{
		"Hello world":         {15496, 995},
		"Hello, world!":       {15496, 11, 995, 0},
		"\n\nHello":           {198, 198, 15496},
		"a\n\n\nb":            {64, 628, 198, 65},
		"hello  world":        {31373, 220, 995},
		"The quick brown fox": {464, 2068, 7586, 21831},
		"I'm here":            {40, 1101, 994},
		" trailing  ":         {25462, 220, 220},
	} {
		if got, _ := tok.Encode(text); !reflect.DeepEqual(got, want) {
			t.Errorf("%q: got %v, want %v", text, got, want)
		}
	}
	if n := tok.VocabSize(); n != 50257 {
		t.Errorf("VocabSize = %d, want 50257", n)
	}
	if s := tok.TokenString(262); s != "Ġthe" {
		t.Errorf("TokenString(262) = %q, want Ġthe", s)
	}
}

func TestAddedTokenMatching(t *testing.T) {
	tok := mustLoad(t, demoDir)
	ids, offs := tok.Encode("a<|endoftext|>b<|endoftext|><|endoftext|>")
	want := []int{65, 0, 66, 0, 0}
	if !reflect.DeepEqual(ids, want) {
		t.Fatalf("ids = %v, want %v", ids, want)
	}
	wantOffs := [][2]int{{0, 1}, {1, 14}, {14, 15}, {15, 28}, {28, 41}}
	if !reflect.DeepEqual(offs, wantOffs) {
		t.Fatalf("offsets = %v, want %v", offs, wantOffs)
	}
	if got := tok.Decode(ids); got != "a<|endoftext|>b<|endoftext|><|endoftext|>" {
		t.Errorf("decode = %q", got)
	}
	// The two-file GPT-2 tokenizer has no added tokens.
	g := mustLoad(t, gpt2Dir)
	if ids, _ := g.Encode("<|endoftext|>"); len(ids) == 1 {
		t.Errorf("two-file tokenizer matched <|endoftext|> as one token")
	}
}

func TestDisplay(t *testing.T) {
	tok := mustLoad(t, gpt2Dir)
	text := "Emoji: 🤖 naïve <|endoftext|>"
	ids, _ := tok.Encode(text)
	disp := tok.Display(ids)
	// The pieces are the tokens' bytes: joined they are the text exactly,
	// and tokens that hold whole characters show them unchanged.
	if joined := strings.Join(disp, ""); joined != text {
		t.Errorf("joined display %q, want %q", joined, text)
	}
	split := 0
	for _, d := range disp {
		if !utf8Valid(d) {
			split++
		}
	}
	if split < 2 {
		t.Errorf("the emoji is not split into byte pieces: %q", disp)
	}
	if got := tok.Display([]int{-1, 1 << 20}); got[0] != "<unk:-1>" || got[1] != "<unk:1048576>" {
		t.Errorf("unknown ids display %q", got)
	}
}

func utf8Valid(s string) bool { return strings.ToValidUTF8(s, "\uFFFD") == s }

// longPiece is one 200,000-byte pre-tokenizer piece and a 100,000-space
// run: a merge loop quadratic in the piece length would take minutes on it.
var longPiece = strings.Repeat("a", 200000) + strings.Repeat(" ", 100000)

// TestLongPieceRoundTrip checks that a very long piece encodes and decodes
// back; how fast it does is BenchmarkEncodeLongPiece's business (a timed
// test would only measure the machine).
func TestLongPieceRoundTrip(t *testing.T) {
	tok := mustLoad(t, gpt2Dir)
	ids, offs := tok.Encode(longPiece)
	if tok.Decode(ids) != longPiece || len(offs) != len(ids) {
		t.Fatal("round trip failed")
	}
}

// BenchmarkEncodeLongPiece measures the merge loop on longPiece (pieces
// this long are never cached, so every run merges).
func BenchmarkEncodeLongPiece(b *testing.B) {
	tok := mustLoad(b, gpt2Dir)
	b.SetBytes(int64(len(longPiece)))
	for b.Loop() {
		tok.Encode(longPiece)
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "neither tokenizer.json") {
		t.Errorf("empty dir: %v", err)
	}
	for name, body := range map[string]string{
		"not json":      `{`,
		"wordpiece":     `{"model":{"type":"WordPiece","vocab":{}},"pre_tokenizer":{"type":"ByteLevel"}}`,
		"unknown pre":   `{"model":{"type":"BPE","vocab":{"a":0},"merges":[]},"pre_tokenizer":{"type":"UnicodeScripts"}}`,
		"bad merge":     `{"model":{"type":"BPE","vocab":{"a":0},"merges":["a"]},"pre_tokenizer":{"type":"ByteLevel"}}`,
		"unknown merge": `{"model":{"type":"BPE","vocab":{"a":0},"merges":[["a","b"]]},"pre_tokenizer":{"type":"ByteLevel"}}`,
		"negative id":   `{"model":{"type":"BPE","vocab":{"a":-1},"merges":[]},"pre_tokenizer":{"type":"ByteLevel"}}`,
		"sparse ids":    `{"model":{"type":"BPE","vocab":{"a":16000000},"merges":[]},"pre_tokenizer":{"type":"ByteLevel"}}`,
	} {
		if _, err := FromJSON("tokenizer.json", []byte(body)); err == nil {
			t.Errorf("%s: no error", name)
		} else if !strings.Contains(err.Error(), "tokenizer.json") {
			t.Errorf("%s: error %q does not name the file", name, err)
		}
	}
	if _, err := FromFiles("vocab.json", []byte(`{"a":0,"b":1,"ab":2}`), "merges.txt", []byte("#version: 0.2\na b\nab\n")); err == nil || !strings.Contains(err.Error(), "merges.txt:3") {
		t.Errorf("bad merges line: %v", err)
	}
}

func FuzzEncode(f *testing.F) {
	gpt2 := mustLoad(f, gpt2Dir)
	demo := mustLoad(f, demoDir)
	for _, name := range []string{"gpt2.json", "demo-gpt2-4l.json"} {
		for _, c := range loadGolden(f, name) {
			f.Add(c.Text)
		}
	}
	f.Add("a<|endoftext|>b\xff\xfe 's")
	f.Fuzz(func(t *testing.T, text string) {
		nChars := len([]rune(text))
		for _, tok := range []*Tokenizer{gpt2, demo} {
			ids, offs := tok.Encode(text)
			if len(ids) != len(offs) {
				t.Fatalf("%d ids, %d offsets", len(ids), len(offs))
			}
			prevStart, prevEnd := 0, 0
			for i, o := range offs {
				if o[0] < 0 || o[1] > nChars || o[0] >= o[1] {
					t.Fatalf("offset %d %v outside [0,%d] or empty", i, o, nChars)
				}
				if o[0] < prevStart || o[1] < prevEnd || o[0] > prevEnd {
					t.Fatalf("offset %d %v not monotonic after [%d,%d]", i, o, prevStart, prevEnd)
				}
				prevStart, prevEnd = o[0], o[1]
			}
			if nChars > 0 && prevEnd != nChars {
				t.Fatalf("offsets end at %d, text has %d chars", prevEnd, nChars)
			}
			if got := tok.Decode(ids); got != text {
				t.Fatalf("decode = %q, want %q", got, text)
			}
			_ = tok.Display(ids)
		}
	})
}

func TestEncodeWithBOS(t *testing.T) {
	tok := mustLoad(t, demoDir)
	ids, offs := tok.EncodeWithBOS("Hello world", 0)
	want, wantOffs := tok.Encode("Hello world")
	if ids[0] != 0 || offs[0] != [2]int{0, 0} || !reflect.DeepEqual(ids[1:], want) || !reflect.DeepEqual(offs[1:], wantOffs) {
		t.Errorf("EncodeWithBOS = %v %v", ids, offs)
	}
}

func BenchmarkEncode(b *testing.B) {
	tok := mustLoad(b, gpt2Dir)
	var sb strings.Builder
	for _, c := range loadGolden(b, "gpt2.json") {
		sb.WriteString(c.Text)
		sb.WriteString("\n")
	}
	text := strings.Repeat(sb.String(), 10)
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		tok.Encode(text)
	}
}
