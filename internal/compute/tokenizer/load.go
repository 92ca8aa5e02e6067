package tokenizer

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Load reads the tokenizer in dir: tokenizer.json when present, else
// vocab.json + merges.txt (which have no added tokens, so text such as
// "<|endoftext|>" is tokenized as ordinary text).
func Load(dir string) (*Tokenizer, error) {
	p := filepath.Join(dir, "tokenizer.json")
	data, err := os.ReadFile(p)
	if err == nil {
		return FromJSON(p, data)
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	vp, mp := filepath.Join(dir, "vocab.json"), filepath.Join(dir, "merges.txt")
	vdata, err := os.ReadFile(vp)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("tokenizer: %s has neither tokenizer.json nor vocab.json + merges.txt", dir)
		}
		return nil, err
	}
	mdata, err := os.ReadFile(mp)
	if err != nil {
		return nil, err
	}
	return FromFiles(vp, vdata, mp, mdata)
}

// FromFiles builds a tokenizer from the contents of vocab.json and
// merges.txt; the names are used in error messages only.
func FromFiles(vocabName string, vocabJSON []byte, mergesName string, mergesTxt []byte) (*Tokenizer, error) {
	var vocab map[string]int
	if err := json.Unmarshal(vocabJSON, &vocab); err != nil {
		return nil, fmt.Errorf("tokenizer: %s: %w", vocabName, err)
	}
	var pairs [][2]string
	sc := bufio.NewScanner(bytes.NewReader(mergesTxt))
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for line := 1; sc.Scan(); line++ {
		s := strings.TrimRight(sc.Text(), "\r")
		if s == "" || strings.HasPrefix(s, "#version") {
			continue
		}
		a, b, ok := strings.Cut(s, " ")
		if !ok || a == "" || b == "" || strings.Contains(b, " ") {
			return nil, fmt.Errorf("tokenizer: %s:%d: merge %q is not two space-separated symbols", mergesName, line, s)
		}
		pairs = append(pairs, [2]string{a, b})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("tokenizer: %s: %w", mergesName, err)
	}
	return build(vocabName, vocab, mergesName, pairs, nil)
}

// tokenizerJSON is the part of a Hugging Face tokenizer.json we read.
type tokenizerJSON struct {
	AddedTokens []struct {
		ID         *int   `json:"id"`
		Content    string `json:"content"`
		SingleWord bool   `json:"single_word"`
		LStrip     bool   `json:"lstrip"`
		RStrip     bool   `json:"rstrip"`
		Normalized bool   `json:"normalized"`
		Special    bool   `json:"special"`
	} `json:"added_tokens"`
	Normalizer   json.RawMessage `json:"normalizer"`
	PreTokenizer json.RawMessage `json:"pre_tokenizer"`
	Model        struct {
		Type                    string            `json:"type"`
		Dropout                 *float64          `json:"dropout"`
		UnkToken                *string           `json:"unk_token"`
		ContinuingSubwordPrefix *string           `json:"continuing_subword_prefix"`
		EndOfWordSuffix         *string           `json:"end_of_word_suffix"`
		ByteFallback            bool              `json:"byte_fallback"`
		IgnoreMerges            bool              `json:"ignore_merges"`
		Vocab                   map[string]int    `json:"vocab"`
		Merges                  []json.RawMessage `json:"merges"`
	} `json:"model"`
}

type byteLevelJSON struct {
	Type           string `json:"type"`
	AddPrefixSpace bool   `json:"add_prefix_space"`
	UseRegex       *bool  `json:"use_regex"`
}

// FromJSON builds a tokenizer from the contents of a Hugging Face
// tokenizer.json (model BPE, ByteLevel pre-tokenizer without prefix
// space, no normalizer); name is used in error messages only.
func FromJSON(name string, data []byte) (*Tokenizer, error) {
	var tj tokenizerJSON
	if err := json.Unmarshal(data, &tj); err != nil {
		return nil, fmt.Errorf("tokenizer: %s: %w", name, err)
	}
	if tj.Model.Type != "" && tj.Model.Type != "BPE" {
		return nil, fmt.Errorf("tokenizer: %s: model.type %q is not supported (want BPE)", name, tj.Model.Type)
	}
	if tj.Model.Vocab == nil {
		return nil, fmt.Errorf("tokenizer: %s: model.vocab is missing", name)
	}
	if n := strings.TrimSpace(string(tj.Normalizer)); n != "" && n != "null" {
		return nil, fmt.Errorf("tokenizer: %s: normalizer %s is not supported (want null)", name, n)
	}
	var pt byteLevelJSON
	if err := json.Unmarshal(tj.PreTokenizer, &pt); err != nil || pt.Type != "ByteLevel" {
		return nil, fmt.Errorf("tokenizer: %s: pre_tokenizer must be ByteLevel, got %s", name, tj.PreTokenizer)
	}
	if pt.AddPrefixSpace {
		return nil, fmt.Errorf("tokenizer: %s: pre_tokenizer.add_prefix_space true is not supported", name)
	}
	if pt.UseRegex != nil && !*pt.UseRegex {
		return nil, fmt.Errorf("tokenizer: %s: pre_tokenizer.use_regex false is not supported", name)
	}
	if d := tj.Model.Dropout; d != nil && *d != 0 {
		return nil, fmt.Errorf("tokenizer: %s: model.dropout %g is not supported", name, *d)
	}
	for field, v := range map[string]*string{"continuing_subword_prefix": tj.Model.ContinuingSubwordPrefix, "end_of_word_suffix": tj.Model.EndOfWordSuffix} {
		if v != nil && *v != "" {
			return nil, fmt.Errorf("tokenizer: %s: model.%s %q is not supported", name, field, *v)
		}
	}
	if tj.Model.ByteFallback || tj.Model.IgnoreMerges {
		return nil, fmt.Errorf("tokenizer: %s: model.byte_fallback and model.ignore_merges are not supported", name)
	}
	pairs := make([][2]string, 0, len(tj.Model.Merges))
	for i, raw := range tj.Model.Merges {
		var s string
		var pair []string
		switch {
		case json.Unmarshal(raw, &s) == nil:
			a, b, ok := strings.Cut(s, " ")
			if !ok || a == "" || b == "" || strings.Contains(b, " ") {
				return nil, fmt.Errorf("tokenizer: %s: model.merges[%d] %q is not two space-separated symbols", name, i, s)
			}
			pairs = append(pairs, [2]string{a, b})
		case json.Unmarshal(raw, &pair) == nil && len(pair) == 2:
			pairs = append(pairs, [2]string{pair[0], pair[1]})
		default:
			return nil, fmt.Errorf("tokenizer: %s: model.merges[%d] %s is neither \"a b\" nor [\"a\",\"b\"]", name, i, raw)
		}
	}
	var added []AddedToken
	for i, a := range tj.AddedTokens {
		if a.ID == nil || *a.ID < 0 {
			return nil, fmt.Errorf("tokenizer: %s: added_tokens[%d] has no valid id", name, i)
		}
		if a.Content == "" {
			return nil, fmt.Errorf("tokenizer: %s: added_tokens[%d] has empty content", name, i)
		}
		added = append(added, AddedToken{ID: *a.ID, Content: a.Content, Special: a.Special,
			LStrip: a.LStrip, RStrip: a.RStrip, SingleWord: a.SingleWord})
	}
	return build(name, tj.Model.Vocab, name, pairs, added)
}

// maxVocab guards against a corrupt file asking for a huge id table.
const maxVocab = 1 << 24

func build(vocabName string, vocab map[string]int, mergesName string, pairs [][2]string, added []AddedToken) (*Tokenizer, error) {
	size := 0
	for k, id := range vocab {
		if id < 0 || id >= maxVocab {
			return nil, fmt.Errorf("tokenizer: %s: token %q has id %d out of range", vocabName, k, id)
		}
		size = max(size, id+1)
	}
	for _, a := range added {
		if a.ID >= maxVocab {
			return nil, fmt.Errorf("tokenizer: %s: added token %q has id %d out of range", vocabName, a.Content, a.ID)
		}
		size = max(size, a.ID+1)
	}
	// Ids are dense in real vocabularies; a sparse one would make the id
	// tables (and memory) as large as its biggest id.
	if limit := 2*(len(vocab)+len(added)) + 1024; size > limit {
		return nil, fmt.Errorf("tokenizer: %s: largest id %d is far beyond the %d tokens defined", vocabName, size-1, len(vocab)+len(added))
	}
	t := &Tokenizer{
		vocab:    make([]string, size),
		ids:      make(map[string]int, len(vocab)+len(added)),
		tokBytes: make([][]byte, size),
		added:    added,
	}
	for k, id := range vocab {
		if t.vocab[id] != "" && t.vocab[id] != k {
			return nil, fmt.Errorf("tokenizer: %s: id %d is used by both %q and %q", vocabName, id, t.vocab[id], k)
		}
		t.vocab[id] = k
		t.ids[k] = id
		t.tokBytes[id] = byteLevelDecode(k)
	}
	for _, a := range added {
		// An added token's text is its content, verbatim (it is not
		// byte-level encoded even when it is also in the vocabulary).
		if _, inVocab := vocab[a.Content]; !inVocab && t.vocab[a.ID] != "" {
			return nil, fmt.Errorf("tokenizer: %s: added token %q reuses id %d of %q", vocabName, a.Content, a.ID, t.vocab[a.ID])
		}
		t.vocab[a.ID] = a.Content
		t.ids[a.Content] = a.ID
		t.tokBytes[a.ID] = []byte(a.Content)
	}
	m := &bpe{merges: make(map[uint64]merge, len(pairs)), cache: make(map[string][]piece)}
	for b := 0; b < 256; b++ {
		m.byteIDs[b] = -1
		if id, ok := vocab[string(byteToRune[b])]; ok {
			m.byteIDs[b] = int32(id)
		}
	}
	for rank, p := range pairs {
		a, okA := vocab[p[0]]
		b, okB := vocab[p[1]]
		r, okR := vocab[p[0]+p[1]]
		if !okA || !okB || !okR {
			return nil, fmt.Errorf("tokenizer: %s: merge %d %q %q: a symbol or the merged token is not in the vocabulary", mergesName, rank+1, p[0], p[1])
		}
		// A repeated pair keeps its last rank, as in Hugging Face and
		// GPT-2's own encoder (both build a map from the list).
		m.merges[pairKey(int32(a), int32(b))] = merge{rank: int32(rank), result: int32(r)}
	}
	t.model = m
	return t, nil
}
