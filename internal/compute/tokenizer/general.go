package tokenizer

import (
	"slices"
	"unicode"
)

// general holds what a tokenizer.json adds to the GPT-2 model: the
// normalizer, pre-tokenizer and post-processor, and which ids are special.
// When fast is set the file is GPT-2-shaped (no normalizer, a plain
// ByteLevel pre-tokenizer, nothing to post-process) and Encode keeps the
// hand-written GPT-2 path.
type general struct {
	fast bool

	normalize normalizer   // nil: none
	preTok    preTokenizer // nil: none (the whole piece goes to the model)

	// Added tokens with normalized=false are matched in the raw text,
	// the others in the normalized text, as in Hugging Face.
	rawTokens, normTokens   []AddedToken
	rawMatcher, normMatcher *addedMatcher

	// TemplateProcessing: ids put before and after the sequence when
	// special tokens are added; their offsets are [0, 0].
	prefix, suffix []int
	// ByteLevel post-processor trim_offsets (and its add_prefix_space).
	trim, trimPrefixSpace bool

	special []bool // by id
}

// EncodeSpecial tokenizes text as Hugging Face's tokenizer(text) does
// (add_special_tokens=True): Encode, then the post-processor's tokens
// (Gemma and Llama prepend BOS; Qwen and GPT-2 add nothing). Added
// tokens' offsets are [0, 0].
func (t *Tokenizer) EncodeSpecial(text string) (ids []int, offsets [][2]int) {
	ids, offsets = t.Encode(text)
	if t.gen == nil || len(t.gen.prefix)+len(t.gen.suffix) == 0 {
		return ids, offsets
	}
	n := len(t.gen.prefix) + len(ids) + len(t.gen.suffix)
	outIDs := make([]int, 0, n)
	outOffs := make([][2]int, 0, n)
	outIDs = append(outIDs, t.gen.prefix...)
	outOffs = append(outOffs, make([][2]int, len(t.gen.prefix))...)
	outIDs = append(outIDs, ids...)
	outOffs = append(outOffs, offsets...)
	outIDs = append(outIDs, t.gen.suffix...)
	outOffs = append(outOffs, make([][2]int, len(t.gen.suffix))...)
	return outIDs, outOffs
}

// BOS returns the id the post-processor puts before the text when
// special tokens are added (Gemma's <bos>, Llama 3's
// <|begin_of_text|>); ok is false when it puts none (Qwen, GPT-2).
func (t *Tokenizer) BOS() (id int, ok bool) {
	if t.gen == nil || len(t.gen.prefix) == 0 {
		return 0, false
	}
	return t.gen.prefix[0], true
}

// IsSpecial reports whether id is a special token: an added token marked
// special, or one the post-processor adds. Dashboards skip these.
func (t *Tokenizer) IsSpecial(id int) bool {
	if t.gen != nil {
		return id >= 0 && id < len(t.gen.special) && t.gen.special[id]
	}
	for _, a := range t.added {
		if a.ID == id && a.Special {
			return true
		}
	}
	return false
}

// SpecialIDs returns the special token ids in increasing order.
func (t *Tokenizer) SpecialIDs() []int {
	var out []int
	if t.gen == nil {
		for _, a := range t.added {
			if a.Special {
				out = append(out, a.ID)
			}
		}
		slices.Sort(out)
		return slices.Compact(out)
	}
	for id, s := range t.gen.special {
		if s {
			out = append(out, id)
		}
	}
	return out
}

// encodeGeneral is Encode (no post-processor tokens) for a tokenizer.json
// that needs the general pipeline.
func (t *Tokenizer) encodeGeneral(text string) (ids []int, offsets [][2]int) {
	g := t.gen
	ids = make([]int, 0, len(text)/3+1)
	spans := make([]span, 0, len(text)/3+1)
	if text == "" {
		return ids, [][2]int{}
	}
	model := func(n normStr) {
		for _, p := range t.model.encode(n.s) {
			ids = append(ids, int(p.id))
			spans = append(spans, n.origRange(int(p.start), int(p.end)))
		}
	}
	normalized := func(n normStr) {
		pieces := []normStr{n}
		if g.preTok != nil {
			pieces = g.preTok(pieces)
		}
		for _, p := range pieces {
			model(p)
		}
	}
	segment := func(from, to int) {
		if from == to {
			return
		}
		n := newNormStr(text, from, to)
		if g.normalize != nil {
			n = g.normalize(n)
		}
		prev := 0
		for _, m := range g.normMatcher.find(n.s, g.normTokens) {
			if m.start > prev {
				normalized(n.slice(prev, m.start))
			}
			ids = append(ids, g.normTokens[m.tok].ID)
			spans = append(spans, n.origRange(m.contentStart, m.contentEnd))
			prev = m.end
		}
		if prev < len(n.s) {
			normalized(n.slice(prev, len(n.s)))
		}
	}
	pos := 0
	for _, m := range g.rawMatcher.find(text, g.rawTokens) {
		segment(pos, m.start)
		ids = append(ids, g.rawTokens[m.tok].ID)
		spans = append(spans, span{int32(m.contentStart), int32(m.contentEnd)})
		pos = m.end
	}
	segment(pos, len(text))
	if g.trim {
		t.trimOffsets(ids, spans)
	}
	return ids, charOffsets(text, spans)
}

// trimOffsets is the ByteLevel post-processor's trim_offsets: a token's
// range loses the leading and trailing spaces of its token string.
func (t *Tokenizer) trimOffsets(ids []int, spans []span) {
	isSpace := func(r rune) bool { return r == byteToRune[' '] || unicode.IsSpace(r) }
	for i, id := range ids {
		rs := []rune(t.TokenString(id))
		lead, trail := 0, 0
		for lead < len(rs) && isSpace(rs[lead]) {
			lead++
		}
		for trail < len(rs) && isSpace(rs[len(rs)-1-trail]) {
			trail++
		}
		sp := &spans[i]
		if lead > 0 && !(t.gen.trimPrefixSpace && (i == 0 || sp.start == 0)) {
			sp.start = min(sp.start+int32(lead), sp.end)
		}
		if trail > 0 && sp.end >= int32(trail) {
			sp.end = max(sp.end-int32(trail), sp.start)
		}
	}
}

// charOffsets converts byte ranges of text to character ranges, as
// Hugging Face does: a range covering part of a character spans it all.
func charOffsets(text string, spans []span) [][2]int {
	charAt := charIndex(text)
	out := make([][2]int, len(spans))
	for i, s := range spans {
		if s.end <= s.start {
			out[i] = [2]int{int(charAt[s.start]), int(charAt[s.start])}
			continue
		}
		out[i] = [2]int{int(charAt[s.start]), int(charAt[s.end-1]) + 1}
	}
	return out
}
