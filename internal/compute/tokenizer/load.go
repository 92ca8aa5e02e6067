package tokenizer

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Load reads the tokenizer in dir: tokenizer.json (or tokenizer.json.gz)
// when present, else vocab.json + merges.txt (which have no added tokens,
// so text such as "<|endoftext|>" is tokenized as ordinary text).
func Load(dir string) (*Tokenizer, error) {
	p := filepath.Join(dir, "tokenizer.json")
	data, err := os.ReadFile(p)
	if err == nil {
		return FromJSON(p, data)
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if data, err := readGzip(p + ".gz"); err == nil {
		return FromJSON(p+".gz", data)
	} else if !errors.Is(err, fs.ErrNotExist) {
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

// maxJSON bounds a decompressed tokenizer.json (Gemma 3's is 33 MB).
const maxJSON = 1 << 30

func readGzip(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %s: %w", path, err)
	}
	data, err := io.ReadAll(io.LimitReader(zr, maxJSON+1))
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %s: %w", path, err)
	}
	if len(data) > maxJSON {
		return nil, fmt.Errorf("tokenizer: %s: more than %d bytes decompressed", path, maxJSON)
	}
	return data, nil
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
	return build(vocabName, vocab, mergesName, pairs, nil, nil)
}

// maxVocab guards against a corrupt file asking for a huge id table.
const maxVocab = 1 << 24

// build makes the tokenizer; decode gives the raw bytes of a vocabulary
// key (nil: byte-level keys, as GPT-2's).
func build(vocabName string, vocab map[string]int, mergesName string, pairs [][2]string, added []AddedToken, decode func(string) []byte) (*Tokenizer, error) {
	if decode == nil {
		decode = byteLevelDecode
	}
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
		t.tokBytes[id] = decode(k)
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
	m := &bpe{merges: make(map[uint64]merge, len(pairs)), cache: make(map[string][]piece), vocab: vocab, unk: -1}
	for b := 0; b < 256; b++ {
		m.byteIDs[b], m.fallbackIDs[b] = -1, -1
		if id, ok := vocab[string(byteToRune[b])]; ok {
			m.byteIDs[b] = int32(id)
		}
		if id, ok := vocab[fallbackKey(byte(b))]; ok {
			m.fallbackIDs[b] = int32(id)
		}
	}
	var joined []byte
	for rank, p := range pairs {
		a, okA := vocab[p[0]]
		b, okB := vocab[p[1]]
		joined = append(append(joined[:0], p[0]...), p[1]...)
		r, okR := vocab[string(joined)]
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
