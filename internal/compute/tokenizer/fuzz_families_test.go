package tokenizer

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"unicode/utf8"
)

// smallSeed turns a real tokenizer.json into a small one with the same
// components: the tokens with ids below 300 (plus the byte-fallback
// tokens), the merges among them, the first added tokens and those the
// post-processor names, all renumbered densely. (Go's fuzzer is slow on
// big inputs, so the seeds stay small.)
func smallSeed(t testing.TB, data []byte) []byte {
	t.Helper()
	var top map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil {
		t.Fatal(err)
	}
	var model map[string]json.RawMessage
	if err := json.Unmarshal(top["model"], &model); err != nil {
		t.Fatal(err)
	}
	var vocab map[string]int
	var merges []mergeEntry
	if err := json.Unmarshal(model["vocab"], &vocab); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(model["merges"], &merges); err != nil {
		t.Fatal(err)
	}
	small := map[string]int{}
	for k, id := range vocab {
		if _, fb := parseFallback(k); id < 300 || fb {
			small[k] = id
		}
	}
	// Renumber densely, in the original order (the fallback tokens may
	// lie beyond 1000).
	keys := make([]string, 0, len(small))
	for k := range small {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return vocab[keys[i]] < vocab[keys[j]] })
	next := 0
	for _, k := range keys {
		small[k] = next
		next++
	}
	var smallMerges [][2]string
	for _, m := range merges {
		_, a := small[m.pair[0]]
		_, b := small[m.pair[1]]
		_, r := small[m.pair[0]+m.pair[1]]
		if a && b && r && len(smallMerges) < 300 {
			smallMerges = append(smallMerges, m.pair)
		}
	}
	var added []map[string]any
	if err := json.Unmarshal(top["added_tokens"], &added); err != nil {
		t.Fatal(err)
	}
	remap := map[float64]int{}
	var keep []map[string]any
	pp := string(top["post_processor"])
	for i, a := range added {
		id, _ := a["id"].(float64)
		content, _ := a["content"].(string)
		if i >= 6 && !strings.Contains(pp, `"`+content+`"`) {
			continue
		}
		if vid, ok := small[content]; ok {
			remap[id] = vid
			a["id"] = vid
			keep = append(keep, a)
			continue
		}
		remap[id] = next
		a["id"] = next
		next++
		keep = append(keep, a)
	}
	var post any
	if err := json.Unmarshal(top["post_processor"], &post); err != nil {
		t.Fatal(err)
	}
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if ids, ok := v["ids"].([]any); ok {
				for i, x := range ids {
					if f, ok := x.(float64); ok {
						if n, ok := remap[f]; ok {
							ids[i] = n
						}
					}
				}
			}
			for _, x := range v {
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(post)
	model["vocab"] = mustMarshal(t, small)
	model["merges"] = mustMarshal(t, smallMerges)
	top["model"] = mustMarshal(t, model)
	top["added_tokens"] = mustMarshal(t, keep)
	top["post_processor"] = mustMarshal(t, post)
	return mustMarshal(t, top)
}

// FuzzFromJSONFamilies feeds variants of small tokenizer.json files built
// from the three real ones (same normalizers, pre-tokenizers,
// post-processors, decoders and added tokens; a small vocabulary) to the
// reader: a file loads or fails with an error, never a panic or hang, and
// what loads encodes with offsets inside the text.
func FuzzFromJSONFamilies(f *testing.F) {
	// The seeds made from the real files are stored in
	// testdata/fuzz/FuzzFromJSONFamilies (TestFamilySeedsUpToDate):
	// building them here would slow every fuzz worker's start.
	f.Add([]byte(`{"normalizer":{"type":"Sequence","normalizers":[{"type":"Prepend","prepend":"▁"},{"type":"NFKC"}]},"pre_tokenizer":{"type":"Metaspace","replacement":"▁","prepend_scheme":"first"},"model":{"type":"BPE","unk_token":"<unk>","fuse_unk":true,"byte_fallback":true,"vocab":{"<unk>":0,"▁":1,"a":2,"▁a":3,"<0x41>":4},"merges":[["▁","a"]]}}`), "a A a")
	f.Add([]byte(`{"pre_tokenizer":{"type":"Sequence","pretokenizers":[{"type":"Digits","individual_digits":true},{"type":"Split","pattern":{"Regex":"\\s+(?!\\S)"},"behavior":"MergedWithNext","invert":true}]},"post_processor":{"type":"TemplateProcessing","single":[{"Sequence":{"id":"A"}},{"SpecialToken":{"id":"e"}}],"special_tokens":{"e":{"ids":[0]}}},"model":{"vocab":{"1":0,"2":1,"x":2},"merges":[]}}`), "12 x  x")
	f.Fuzz(func(t *testing.T, data []byte, text string) {
		tok, err := FromJSON("tokenizer.json", data)
		if err != nil {
			if !strings.Contains(err.Error(), "tokenizer.json") {
				t.Fatalf("error %q does not name the file", err)
			}
			return
		}
		checkEncoding(t, tok, text)
	})
}

// checkEncoding checks what holds for every tokenizer and text: offsets
// inside the text, in order, one per id; EncodeSpecial is Encode plus
// the post-processor's tokens.
func checkEncoding(t *testing.T, tok *Tokenizer, text string) {
	t.Helper()
	nChars := utf8.RuneCountInString(text)
	ids, offs := tok.Encode(text)
	if len(ids) != len(offs) {
		t.Fatalf("%d ids, %d offsets", len(ids), len(offs))
	}
	prev := 0
	for i, o := range offs {
		if o[0] < 0 || o[0] > o[1] || o[1] > nChars {
			t.Fatalf("offset %d %v outside [0,%d]", i, o, nChars)
		}
		if o[0] < prev {
			t.Fatalf("offset %d %v starts before %d", i, o, prev)
		}
		prev = o[0]
	}
	sids, soffs := tok.EncodeSpecial(text)
	if len(sids) != len(soffs) || len(sids) < len(ids) {
		t.Fatalf("EncodeSpecial: %d ids, %d offsets (Encode %d)", len(sids), len(soffs), len(ids))
	}
	if bos, ok := tok.BOS(); ok && (sids[0] != bos || !tok.IsSpecial(bos)) {
		t.Fatalf("EncodeSpecial starts with %d, BOS is %d", sids[0], bos)
	}
	_ = tok.Display(sids)
	_ = tok.Decode(sids)
}

var seedTexts = map[string]string{"gemma3": "Hello  world 12345", "llama3_1": "<bos>x<|begin_of_text|>y\n\n", "qwen3": "naïve 日本 🤖 \xff<|im_start|>"}

func seedFile(name string) string {
	return filepath.Join("testdata", "fuzz", "FuzzFromJSONFamilies", "seed-"+name)
}

// TestFamilySeedsUpToDate: the stored seeds of FuzzFromJSONFamilies are
// smallSeed of the real files (SAEX_UPDATE_SEEDS=1 rewrites them), and
// load and encode.
func TestFamilySeedsUpToDate(t *testing.T) {
	for _, name := range families {
		seed := smallSeed(t, readTokenizerJSON(t, name))
		want := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\nstring(%q)\n", seed, seedTexts[name])
		if os.Getenv("SAEX_UPDATE_SEEDS") == "1" {
			if err := os.WriteFile(seedFile(name), []byte(want), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		got, err := os.ReadFile(seedFile(name))
		if err != nil || string(got) != want {
			t.Errorf("%s: stored seed is stale or missing (%v); rerun with SAEX_UPDATE_SEEDS=1", seedFile(name), err)
		}
		tok, err := FromJSON(name, seed)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		checkEncoding(t, tok, seedTexts[name])
	}
}

// FuzzEncodeFamilies encodes any text with the real Llama 3.1 and Qwen3
// tokenizers: offsets inside the text and in order, and the text decodes
// back where the tokenizer is lossless (Llama 3: always; Qwen3: when the
// text is NFC). Gemma 3's 33 MB file would make every fuzz worker start
// slowly; its components are fuzzed in FuzzFromJSONFamilies and its
// encoding in TestFamilyGolden and TestFamilyAPI.
func FuzzEncodeFamilies(f *testing.F) {
	toks := map[string]*Tokenizer{}
	names := []string{"llama3_1", "qwen3"}
	for _, name := range names {
		toks[name] = familyTokenizer(f, name)
		for i, c := range loadFamilyGolden(f, name) {
			if i%4 == 0 {
				f.Add(c.Text)
			}
		}
	}
	f.Add("a\xffb\xc3 <bos><eos>  \r\n")
	f.Fuzz(func(t *testing.T, text string) {
		for _, name := range names {
			tok := toks[name]
			checkEncoding(t, tok, text)
			ids, _ := tok.Encode(text)
			lossless := name == "llama3_1" || (utf8.ValidString(text) && normNFC(text) == text)
			if got := tok.Decode(ids); lossless && got != text {
				t.Fatalf("%s: decode = %q, want %q", name, got, text)
			}
		}
	})
}
