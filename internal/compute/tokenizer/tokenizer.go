// Package tokenizer implements Hugging Face's BPE tokenizers, loaded from
// a tokenizer.json (GPT-2, Llama 3, Qwen, Gemma, Pythia...: normalizers,
// pre-tokenizers, added tokens, post-processor) or from GPT-2's
// vocab.json + merges.txt, with ids and character offsets identical to
// Hugging Face tokenizers. GPT-2-shaped files keep a hand-written fast
// path; the others go through the general pipeline (general.go).
package tokenizer

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// AddedToken is a token matched verbatim in the raw text before
// pre-tokenization (for GPT-2 checkpoints: "<|endoftext|>").
type AddedToken struct {
	ID      int
	Content string
	Special bool
	// LStrip and RStrip make a match swallow the whitespace on its left
	// or right; SingleWord matches only when not inside a word.
	LStrip, RStrip, SingleWord bool
}

// Tokenizer is a loaded byte-level BPE tokenizer. It is safe for
// concurrent use.
type Tokenizer struct {
	vocab    []string // id -> vocabulary key (byte-level string); "" for holes
	ids      map[string]int
	tokBytes [][]byte // id -> raw bytes the token stands for
	added    []AddedToken
	model    *bpe
	gen      *general // tokenizer.json pipeline; nil for vocab.json + merges.txt
}

// VocabSize is one more than the largest token id (vocabulary and added
// tokens together).
func (t *Tokenizer) VocabSize() int { return len(t.vocab) }

// TokenString returns the vocabulary key of id (the byte-level string,
// e.g. "Ġthe"), or the content of an added token; "" if id is unknown.
func (t *Tokenizer) TokenString(id int) string {
	if id < 0 || id >= len(t.vocab) {
		return ""
	}
	return t.vocab[id]
}

// ID returns the id of a vocabulary key or added token content.
func (t *Tokenizer) ID(token string) (int, bool) {
	id, ok := t.ids[token]
	return id, ok
}

// AddedTokens returns the tokens matched verbatim in text.
func (t *Tokenizer) AddedTokens() []AddedToken {
	return append([]AddedToken(nil), t.added...)
}

// Bytes returns the raw bytes token id stands for (nil for an unknown
// id). The caller must not modify the result.
func (t *Tokenizer) Bytes(id int) []byte {
	if id < 0 || id >= len(t.tokBytes) {
		return nil
	}
	return t.tokBytes[id]
}

// Decode concatenates the raw bytes of ids. The result is the encoded
// text exactly; it may be invalid UTF-8 for an arbitrary id sequence.
func (t *Tokenizer) Decode(ids []int) string {
	var sb strings.Builder
	for _, id := range ids {
		sb.Write(t.Bytes(id))
	}
	return sb.String()
}

// Display returns each token's decoded piece: the bytes it stands for, as
// a string. A piece that holds part of a UTF-8 character split across
// tokens is not valid UTF-8 alone; it is kept exact so that pages can merge
// it with its neighbours back into the character, and an API sends it with
// U+FFFD for the broken bytes (features.TokenText), as Neuronpedia does.
// For example "🤖" split into tokens [F0 9F A4] [96] displays as those two
// byte strings. Unknown ids display as "<unk:ID>".
func (t *Tokenizer) Display(ids []int) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		if id < 0 || id >= len(t.tokBytes) {
			out[i] = fmt.Sprintf("<unk:%d>", id)
			continue
		}
		out[i] = string(t.tokBytes[id])
	}
	return out
}

// Encode tokenizes text (no BOS is added) and returns the ids and, per
// token, its [start, end) range in Unicode characters of text, as Hugging
// Face reports offsets: a token covering part of a multi-byte character
// spans that whole character. Invalid UTF-8 bytes count as one character
// each.
func (t *Tokenizer) Encode(text string) (ids []int, offsets [][2]int) {
	if t.gen != nil && !t.gen.fast {
		return t.encodeGeneral(text)
	}
	if text == "" {
		return []int{}, [][2]int{}
	}
	charAt := charIndex(text)

	ids = make([]int, 0, len(text)/3+1)
	offsets = make([][2]int, 0, len(text)/3+1)
	encodeSpan := func(from, to int) {
		preTokenize(text[from:to], func(s, e int) {
			for _, p := range t.model.encode(text[from+s : from+e]) {
				bs, be := from+s+int(p.start), from+s+int(p.end)
				ids = append(ids, int(p.id))
				offsets = append(offsets, [2]int{int(charAt[bs]), int(charAt[be-1]) + 1})
			}
		})
	}
	pos := 0
	for pos < len(text) {
		at, end, tok, ok := t.nextAdded(text, pos)
		if !ok {
			break
		}
		encodeSpan(pos, at)
		ids = append(ids, tok.ID)
		offsets = append(offsets, [2]int{int(charAt[at]), int(charAt[end])})
		pos = end
	}
	encodeSpan(pos, len(text))
	return ids, offsets
}

// EncodeWithBOS is Encode with the token bos prepended, as SAEs with
// prepend_bos were trained (TransformerLens prepends the BOS string and
// tokenizes the text on its own, so the first word gets no leading
// space). The BOS token's offset is the empty range [0, 0].
func (t *Tokenizer) EncodeWithBOS(text string, bos int) (ids []int, offsets [][2]int) {
	ids, offsets = t.Encode(text)
	ids = append([]int{bos}, ids...)
	offsets = append([][2]int{{0, 0}}, offsets...)
	return ids, offsets
}

// nextAdded finds the leftmost added token in text at or after pos (the
// longest one at that position) and returns the byte range of the match,
// widened by its LStrip/RStrip whitespace.
func (t *Tokenizer) nextAdded(text string, pos int) (start, end int, tok AddedToken, found bool) {
	best, bestAt := -1, len(text)
	for k, a := range t.added {
		at := indexAdded(text, pos, a)
		if at < 0 {
			continue
		}
		if at < bestAt || (at == bestAt && len(a.Content) > len(t.added[best].Content)) {
			best, bestAt = k, at
		}
	}
	if best < 0 {
		return 0, 0, AddedToken{}, false
	}
	a := t.added[best]
	start, end = bestAt, bestAt+len(a.Content)
	if a.LStrip {
		for start > pos {
			r, w := utf8.DecodeLastRuneInString(text[pos:start])
			if !unicode.IsSpace(r) {
				break
			}
			start -= w
		}
	}
	if a.RStrip {
		for end < len(text) {
			r, w := utf8.DecodeRuneInString(text[end:])
			if !unicode.IsSpace(r) {
				break
			}
			end += w
		}
	}
	return start, end, a, true
}

// indexAdded returns the byte position of the first valid match of a in
// text at or after pos, or -1.
func indexAdded(text string, pos int, a AddedToken) int {
	if a.Content == "" {
		return -1
	}
	for pos <= len(text) {
		i := strings.Index(text[pos:], a.Content)
		if i < 0 {
			return -1
		}
		at := pos + i
		if !a.SingleWord || singleWord(text, at, at+len(a.Content)) {
			return at
		}
		pos = at + 1
	}
	return -1
}

func isWordRune(r rune) bool { return r == '_' || unicode.IsLetter(r) || unicode.IsNumber(r) }

// singleWord reports whether text[s:e] is not glued to a word character
// on either side.
func singleWord(text string, s, e int) bool {
	if s > 0 {
		if r, _ := utf8.DecodeLastRuneInString(text[:s]); isWordRune(r) {
			return false
		}
	}
	if e < len(text) {
		if r, _ := utf8.DecodeRuneInString(text[e:]); isWordRune(r) {
			return false
		}
	}
	return true
}

// charIndex maps each byte of text to the index of the character it is
// part of; the extra last entry is the number of characters. Offsets are
// character positions, as Hugging Face reports them.
func charIndex(text string) []int32 {
	charAt := make([]int32, len(text)+1)
	c := int32(0)
	for i := 0; i < len(text); {
		_, w := runeAt(text, i)
		for k := 0; k < w; k++ {
			charAt[i+k] = c
		}
		i += w
		c++
	}
	charAt[len(text)] = c
	return charAt
}
