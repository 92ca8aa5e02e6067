package tokenizer

import (
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// TestFromJSONErrors: a malformed or unsupported tokenizer.json fails
// with an error naming the file and the JSON field.
func TestFromJSONErrors(t *testing.T) {
	const model = `"model":{"type":"BPE","vocab":{"a":0,"b":1,"ab":2},"merges":["a b"]}`
	for _, tc := range []struct{ body, want string }{
		{`{"normalizer":{"type":"Precompiled"},` + model + `}`, `normalizer.type: "Precompiled" is not supported`},
		{`{"normalizer":5,` + model + `}`, `normalizer: not an object`},
		{`{"normalizer":{},` + model + `}`, `normalizer.type: missing`},
		{`{"normalizer":{"type":"Replace","pattern":{"String":"a"}},` + model + `}`, `normalizer.content: missing`},
		{`{"normalizer":{"type":"Sequence","normalizers":[{"type":"NFC"},{"type":"Nope"}]},` + model + `}`, `normalizer.normalizers[1].type: "Nope"`},
		{`{"pre_tokenizer":{"type":"Sequence","pretokenizers":[{"type":"ByteLevel"},{"type":"Digits"}]},` + model + `}`, `pre_tokenizer.pretokenizers[0]: ByteLevel is supported only as the last`},
		{`{"pre_tokenizer":{"type":"Split","pattern":{"Regex":"("},"behavior":"Isolated"},` + model + `}`, `pre_tokenizer.pattern.Regex: regex "("`},
		{`{"pre_tokenizer":{"type":"Split","pattern":{"Glob":"*"},"behavior":"Isolated"},` + model + `}`, `pre_tokenizer.pattern: want {"String"`},
		{`{"pre_tokenizer":{"type":"Split","pattern":{"String":" "},"behavior":"Sideways"},` + model + `}`, `pre_tokenizer.behavior: "Sideways" is not one of`},
		{`{"pre_tokenizer":{"type":"Metaspace","prepend_scheme":"sometimes"},` + model + `}`, `pre_tokenizer.prepend_scheme: "sometimes"`},
		{`{"pre_tokenizer":{"type":"Split","pattern":{"String":""},"behavior":"Isolated"},` + model + `}`, `pre_tokenizer.pattern.String: empty pattern`},
		{`{"post_processor":{"type":"TemplateProcessing","single":[{"SpecialToken":{"id":"<s>"}},{"Sequence":{"id":"A"}}],"special_tokens":{}},` + model + `}`, `post_processor.single[0]: special token "<s>" is not in`},
		{`{"post_processor":{"type":"TemplateProcessing","single":[{"SpecialToken":{"id":"<s>"}}],"special_tokens":{"<s>":{"ids":[0]}}},` + model + `}`, `post_processor.single: no sequence A`},
		{`{"post_processor":{"type":"TemplateProcessing","single":[{"SpecialToken":{"id":"<s>"}},{"Sequence":{"id":"A"}}],"special_tokens":{"<s>":{"ids":[99]}}},` + model + `}`, `post_processor: special token id 99 is beyond`},
		{`{"post_processor":{"type":"Sequence","processors":[{"type":"ByteLevel"},{"type":"Magic"}]},` + model + `}`, `post_processor.processors[1].type: "Magic"`},
		{`{"decoder":{"type":"WordPiece"},` + model + `}`, `decoder.type: "WordPiece" is not supported`},
		{`{"model":{"type":"Unigram","vocab":[]}}`, `model.type: "Unigram" is not supported`},
		{`{"model":{"type":"BPE","merges":[]}}`, `model.vocab: missing`},
		{`{"model":{"type":"BPE","vocab":{"a":0},"merges":[["a"]]}}`, `model.merges[0]: ["a"] is neither`},
		{`{"model":{"type":"BPE","vocab":{"a":0},"merges":[],"dropout":0.1}}`, `model.dropout: 0.1 is not supported`},
		{`{"added_tokens":[{"content":"x"}],` + model + `}`, `added_tokens[0].id: missing or negative`},
		{`{"added_tokens":[{"id":5,"content":""}],` + model + `}`, `added_tokens[0].content: empty`},
	} {
		_, err := FromJSON("bad/tokenizer.json", []byte(tc.body))
		if err == nil {
			t.Errorf("%s: no error", tc.body)
			continue
		}
		if !strings.Contains(err.Error(), "bad/tokenizer.json") || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s:\n error %q\n want the file and %q", tc.body, err, tc.want)
		}
	}
}

// A truncated real file (as a half-copied download) fails naming it; a
// truncated tokenizer.json.gz too.
func TestLoadTruncated(t *testing.T) {
	data := readTokenizerJSON(t, "qwen3")
	if _, err := FromJSON("qwen3/tokenizer.json", data[:len(data)/2]); err == nil || !strings.Contains(err.Error(), "qwen3/tokenizer.json") {
		t.Errorf("truncated JSON: %v", err)
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(data)
	zw.Close()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "tokenizer.json.gz"), buf.Bytes()[:buf.Len()/2], 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "tokenizer.json.gz") {
		t.Errorf("truncated gzip: %v", err)
	}
}

// The API callers use: BOS per family, special ids, EncodeSpecial vs
// Encode, and token strings and bytes that pages can show.
func TestFamilyAPI(t *testing.T) {
	for _, tc := range []struct {
		name    string
		bos     int
		hasBOS  bool
		special []int // some special ids
		normal  []int // some ids that are not special
	}{
		{"gemma3", 2, true, []int{0, 1, 2, 3}, []int{4, 9259, 255968}},
		{"llama3_1", 128000, true, []int{128000, 128001, 128009}, []int{9906, 220}},
		{"qwen3", 0, false, []int{151643, 151644, 151645}, []int{151657, 9707}},
	} {
		tok := familyTokenizer(t, tc.name)
		if bos, ok := tok.BOS(); ok != tc.hasBOS || (ok && bos != tc.bos) {
			t.Errorf("%s: BOS = %d, %v", tc.name, bos, ok)
		}
		for _, id := range tc.special {
			if !tok.IsSpecial(id) {
				t.Errorf("%s: %d (%q) is not special", tc.name, id, tok.TokenString(id))
			}
		}
		for _, id := range tc.normal {
			if tok.IsSpecial(id) {
				t.Errorf("%s: %d (%q) is special", tc.name, id, tok.TokenString(id))
			}
		}
		ids := tok.SpecialIDs()
		for i := 1; i < len(ids); i++ {
			if ids[i] <= ids[i-1] {
				t.Fatalf("%s: SpecialIDs not increasing at %d", tc.name, i)
			}
		}
		for _, id := range tc.special {
			if !contains(ids, id) {
				t.Errorf("%s: SpecialIDs lacks %d", tc.name, id)
			}
		}
	}
	// Gemma: "▁" stands for a space and byte-fallback tokens for their
	// byte, so the bytes of the tokens spell the text.
	g := familyTokenizer(t, "gemma3")
	text := "Hello world\n\n 𝔘 naïve"
	ids, _ := g.Encode(text)
	if got := g.Decode(ids); got != text {
		t.Errorf("gemma3 decode = %q, want %q", got, text)
	}
	if id, _ := g.ID("▁world"); !reflect.DeepEqual(g.Bytes(id), []byte(" world")) {
		t.Errorf("gemma3 bytes of ▁world = %q", g.Bytes(id))
	}
	if id, ok := g.ID("<0xF0>"); !ok || !reflect.DeepEqual(g.Bytes(id), []byte{0xF0}) {
		t.Errorf("gemma3 bytes of <0xF0> = %q", g.Bytes(id))
	}
	l := familyTokenizer(t, "llama3_1")
	if id, _ := l.ID("Ġworld"); string(l.Bytes(id)) != " world" {
		t.Errorf("llama bytes of Ġworld = %q", l.Bytes(id))
	}
}

func contains(ids []int, id int) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}

// Encoding is safe from many goroutines (the server shares one
// tokenizer): run with -race. The file mixes a regexp2 pattern, a
// hand-written one, a normalizer and the piece cache.
func TestConcurrentEncode(t *testing.T) {
	tok, err := FromJSON("t.json", []byte(`{"normalizer":{"type":"NFKC"},
		"pre_tokenizer":{"type":"Sequence","pretokenizers":[
			{"type":"Split","pattern":{"Regex":"\\s+(?!\\S)|[0-9]"},"behavior":"Isolated"},
			{"type":"ByteLevel","add_prefix_space":false,"use_regex":true}]},
		"model":{"type":"BPE","vocab":{"a":0,"b":1,"ab":2,"Ġ":3,"1":4},"merges":["a b"]}}`))
	if err != nil {
		t.Fatal(err)
	}
	want, wantOffs := tok.Encode("ab ab  1 ﬁ ab")
	done := make(chan bool)
	for g := 0; g < 8; g++ {
		go func() {
			ok := true
			for i := 0; i < 200; i++ {
				ids, offs := tok.Encode("ab ab  1 ﬁ ab")
				ok = ok && reflect.DeepEqual(ids, want) && reflect.DeepEqual(offs, wantOffs)
				tok.Encode(strings.Repeat("ab ", i))
			}
			done <- ok
		}()
	}
	for g := 0; g < 8; g++ {
		if !<-done {
			t.Error("concurrent encodes differ")
		}
	}
}
