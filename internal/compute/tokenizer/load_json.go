package tokenizer

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"golang.org/x/text/unicode/norm"
)

// tokenizerJSON is the part of a Hugging Face tokenizer.json we read;
// the components are parsed by type (see component).
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
	Normalizer    json.RawMessage `json:"normalizer"`
	PreTokenizer  json.RawMessage `json:"pre_tokenizer"`
	PostProcessor json.RawMessage `json:"post_processor"`
	Decoder       json.RawMessage `json:"decoder"`
	Model         json.RawMessage `json:"model"`
}

// bpeJSON is tokenizer.json's model when its type is BPE.
type bpeJSON struct {
	Type                    string         `json:"type"`
	Dropout                 *float64       `json:"dropout"`
	UnkToken                *string        `json:"unk_token"`
	ContinuingSubwordPrefix *string        `json:"continuing_subword_prefix"`
	EndOfWordSuffix         *string        `json:"end_of_word_suffix"`
	FuseUnk                 bool           `json:"fuse_unk"`
	ByteFallback            bool           `json:"byte_fallback"`
	IgnoreMerges            bool           `json:"ignore_merges"`
	Vocab                   map[string]int `json:"vocab"`
	Merges                  []mergeEntry   `json:"merges"`
}

// mergeEntry is one merge, written "a b" (older files) or ["a", "b"].
type mergeEntry struct {
	pair [2]string
	bad  string // why it is malformed; reported with its index
}

func (m *mergeEntry) UnmarshalJSON(data []byte) error {
	// Fast path for the common ["a","b"] without escapes: a big file has
	// half a million merges.
	if len(data) > 6 && data[0] == '[' && data[1] == '"' && data[len(data)-1] == ']' && data[len(data)-2] == '"' &&
		bytes.IndexByte(data, '\\') < 0 && bytes.Count(data, []byte(`"`)) == 4 {
		if a, b, ok := bytes.Cut(data[2:len(data)-2], []byte(`","`)); ok {
			m.pair = [2]string{string(a), string(b)}
			return nil
		}
	}
	if len(data) > 0 && data[0] == '"' {
		var s string
		if err := json.Unmarshal(data, &s); err != nil {
			return err
		}
		a, b, ok := strings.Cut(s, " ")
		if !ok || a == "" || b == "" || strings.Contains(b, " ") {
			m.bad = fmt.Sprintf("%q is not two space-separated symbols", s)
			return nil
		}
		m.pair = [2]string{a, b}
		return nil
	}
	var pair []string
	if err := json.Unmarshal(data, &pair); err != nil || len(pair) != 2 {
		m.bad = fmt.Sprintf("%s is neither \"a b\" nor [\"a\",\"b\"]", data)
		return nil
	}
	m.pair = [2]string{pair[0], pair[1]}
	return nil
}

// loadErr names the file and the JSON field of a problem.
func loadErr(file, field, format string, args ...any) error {
	return fmt.Errorf("tokenizer: %s: %s: %s", file, field, fmt.Sprintf(format, args...))
}

// component is one typed object of tokenizer.json (a normalizer,
// pre-tokenizer, post-processor or decoder) at path.
type component struct {
	file, path, typ string
	fields          map[string]json.RawMessage
}

// parseComponent returns nil for an absent or null component.
func parseComponent(file, path string, raw json.RawMessage) (*component, error) {
	if len(bytes.TrimSpace(raw)) == 0 || string(bytes.TrimSpace(raw)) == "null" {
		return nil, nil
	}
	c := &component{file: file, path: path}
	if err := json.Unmarshal(raw, &c.fields); err != nil {
		return nil, loadErr(file, path, "not an object: %v", err)
	}
	if err := c.get("type", &c.typ, true); err != nil {
		return nil, err
	}
	return c, nil
}

// get decodes field name into dst; a missing or null field is an error
// only when required.
func (c *component) get(name string, dst any, required bool) error {
	raw, ok := c.fields[name]
	if !ok || string(raw) == "null" {
		if required {
			return loadErr(c.file, c.path+"."+name, "missing")
		}
		return nil
	}
	if err := json.Unmarshal(raw, dst); err != nil {
		return loadErr(c.file, c.path+"."+name, "%v", err)
	}
	return nil
}

func (c *component) unsupported() error {
	return loadErr(c.file, c.path+".type", "%q is not supported", c.typ)
}

// list parses the array field name as components.
func (c *component) list(name string) ([]*component, error) {
	var raws []json.RawMessage
	if err := c.get(name, &raws, true); err != nil {
		return nil, err
	}
	out := make([]*component, 0, len(raws))
	for i, raw := range raws {
		sub, err := parseComponent(c.file, fmt.Sprintf("%s.%s[%d]", c.path, name, i), raw)
		if err != nil {
			return nil, err
		}
		if sub == nil {
			return nil, loadErr(c.file, fmt.Sprintf("%s.%s[%d]", c.path, name, i), "null")
		}
		out = append(out, sub)
	}
	return out, nil
}

// pattern parses a {"String": s} or {"Regex": r} field.
func (c *component) pattern(name string) (pattern, string, error) {
	var p struct {
		String *string `json:"String"`
		Regex  *string `json:"Regex"`
	}
	if err := c.get(name, &p, true); err != nil {
		return nil, "", err
	}
	switch {
	case p.String != nil && p.Regex == nil:
		if *p.String == "" {
			return nil, "", loadErr(c.file, c.path+"."+name+".String", "empty pattern")
		}
		return literal(*p.String), "", nil
	case p.Regex != nil && p.String == nil:
		if hand := knownRegex(*p.Regex); hand != nil {
			return hand, *p.Regex, nil
		}
		re, err := compileRegex(*p.Regex)
		if err != nil {
			return nil, "", loadErr(c.file, c.path+"."+name+".Regex", "%v", err)
		}
		return re, *p.Regex, nil
	}
	return nil, "", loadErr(c.file, c.path+"."+name, "want {\"String\": ...} or {\"Regex\": ...}")
}

func (c *component) normalizer() (normalizer, error) {
	switch c.typ {
	case "NFC":
		return unicodeNormalizer(norm.NFC), nil
	case "NFD":
		return unicodeNormalizer(norm.NFD), nil
	case "NFKC":
		return unicodeNormalizer(norm.NFKC), nil
	case "NFKD":
		return unicodeNormalizer(norm.NFKD), nil
	case "Lowercase":
		return mapRunes(strings.ToLower), nil
	case "StripAccents":
		return stripAccents, nil
	case "Strip":
		var left, right bool
		if err := c.get("strip_left", &left, false); err != nil {
			return nil, err
		}
		if err := c.get("strip_right", &right, false); err != nil {
			return nil, err
		}
		return stripNormalizer(left, right), nil
	case "Replace":
		p, _, err := c.pattern("pattern")
		if err != nil {
			return nil, err
		}
		var content string
		if err := c.get("content", &content, true); err != nil {
			return nil, err
		}
		return replaceNormalizer(p, content), nil
	case "Prepend":
		var s string
		if err := c.get("prepend", &s, true); err != nil {
			return nil, err
		}
		return prependNormalizer(s), nil
	case "Sequence":
		subs, err := c.list("normalizers")
		if err != nil {
			return nil, err
		}
		ns := make([]normalizer, 0, len(subs))
		for _, s := range subs {
			n, err := s.normalizer()
			if err != nil {
				return nil, err
			}
			ns = append(ns, n)
		}
		return sequenceNormalizer(ns), nil
	}
	return nil, c.unsupported()
}

// preTokenizerInfo is what the pre-tokenizer tells the rest: whether the
// model reads byte-level symbols, and whether it is GPT-2's plain
// ByteLevel (then Encode keeps the hand-written fast path).
type preTokenizerInfo struct {
	byteLevel, plainGPT2 bool
}

func (c *component) preTokenizer(last bool, info *preTokenizerInfo) (preTokenizer, error) {
	switch c.typ {
	case "ByteLevel":
		if !last {
			return nil, loadErr(c.file, c.path, "ByteLevel is supported only as the last pre-tokenizer")
		}
		addPrefix, useRegex := false, true
		if err := c.get("add_prefix_space", &addPrefix, false); err != nil {
			return nil, err
		}
		if err := c.get("use_regex", &useRegex, false); err != nil {
			return nil, err
		}
		info.byteLevel = true
		info.plainGPT2 = c.path == "pre_tokenizer" && !addPrefix && useRegex
		return byteLevelPreTokenizer(addPrefix, useRegex), nil
	case "Split":
		p, _, err := c.pattern("pattern")
		if err != nil {
			return nil, err
		}
		var behavior string
		var invert bool
		if err := c.get("behavior", &behavior, true); err != nil {
			return nil, err
		}
		b, ok := splitBehaviors[behavior]
		if !ok {
			return nil, loadErr(c.file, c.path+".behavior", "%q is not one of Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous", behavior)
		}
		if err := c.get("invert", &invert, false); err != nil {
			return nil, err
		}
		return splitPreTokenizer(p, b, invert), nil
	case "Metaspace":
		repl := "▁"
		if err := c.get("replacement", &repl, false); err != nil {
			return nil, err
		}
		if repl == "" {
			return nil, loadErr(c.file, c.path+".replacement", "empty")
		}
		scheme, split := "always", true
		var addPrefix *bool
		if err := c.get("add_prefix_space", &addPrefix, false); err != nil {
			return nil, err
		}
		if addPrefix != nil && !*addPrefix {
			scheme = "never"
		}
		if err := c.get("prepend_scheme", &scheme, false); err != nil {
			return nil, err
		}
		if scheme != "always" && scheme != "first" && scheme != "never" {
			return nil, loadErr(c.file, c.path+".prepend_scheme", "%q is not always, first or never", scheme)
		}
		if err := c.get("split", &split, false); err != nil {
			return nil, err
		}
		return metaspace(repl, scheme, split), nil
	case "Digits":
		var individual bool
		if err := c.get("individual_digits", &individual, false); err != nil {
			return nil, err
		}
		return digitsPreTokenizer(individual), nil
	case "WhitespaceSplit":
		return whitespaceSplit, nil
	case "Whitespace":
		re, err := compileRegex(`\w+|[^\w\s]+`)
		if err != nil {
			return nil, err
		}
		return splitPreTokenizer(re, removed, true), nil
	case "Punctuation":
		behavior := "Isolated"
		if err := c.get("behavior", &behavior, false); err != nil {
			return nil, err
		}
		b, ok := splitBehaviors[behavior]
		if !ok {
			return nil, loadErr(c.file, c.path+".behavior", "%q is not a split behavior", behavior)
		}
		return punctuationPreTokenizer(b), nil
	case "Sequence":
		subs, err := c.list("pretokenizers")
		if err != nil {
			return nil, err
		}
		ps := make([]preTokenizer, 0, len(subs))
		for i, s := range subs {
			p, err := s.preTokenizer(last && i == len(subs)-1, info)
			if err != nil {
				return nil, err
			}
			ps = append(ps, p)
		}
		return sequencePreTokenizer(ps), nil
	}
	return nil, c.unsupported()
}

// postProcessor fills g's template ids and offset trimming.
func (c *component) postProcessor(g *general) error {
	switch c.typ {
	case "ByteLevel":
		if err := c.get("trim_offsets", &g.trim, false); err != nil {
			return err
		}
		return c.get("add_prefix_space", &g.trimPrefixSpace, false)
	case "TemplateProcessing":
		type ref struct {
			ID string `json:"id"`
		}
		var single []struct {
			SpecialToken *ref `json:"SpecialToken"`
			Sequence     *ref `json:"Sequence"`
		}
		var specials map[string]struct {
			IDs []int `json:"ids"`
		}
		if err := c.get("single", &single, true); err != nil {
			return err
		}
		if err := c.get("special_tokens", &specials, false); err != nil {
			return err
		}
		seen := false
		for i, item := range single {
			field := fmt.Sprintf("%s.single[%d]", c.path, i)
			switch {
			case item.Sequence != nil && item.SpecialToken == nil:
				if seen || item.Sequence.ID != "A" {
					return loadErr(c.file, field, "the single template must hold sequence A once")
				}
				seen = true
			case item.SpecialToken != nil && item.Sequence == nil:
				st, ok := specials[item.SpecialToken.ID]
				if !ok || len(st.IDs) == 0 {
					return loadErr(c.file, field, "special token %q is not in %s.special_tokens", item.SpecialToken.ID, c.path)
				}
				if seen {
					g.suffix = append(g.suffix, st.IDs...)
				} else {
					g.prefix = append(g.prefix, st.IDs...)
				}
			default:
				return loadErr(c.file, field, "want {\"SpecialToken\": ...} or {\"Sequence\": ...}")
			}
		}
		if !seen {
			return loadErr(c.file, c.path+".single", "no sequence A")
		}
		return nil
	case "BertProcessing", "RobertaProcessing":
		var cls, sep []json.RawMessage
		if err := c.get("cls", &cls, true); err != nil {
			return err
		}
		if err := c.get("sep", &sep, true); err != nil {
			return err
		}
		clsID, err := c.specialPair("cls", cls)
		if err != nil {
			return err
		}
		sepID, err := c.specialPair("sep", sep)
		if err != nil {
			return err
		}
		g.prefix, g.suffix = append(g.prefix, clsID), append(g.suffix, sepID)
		if c.typ == "RobertaProcessing" {
			g.trim = true
			if err := c.get("trim_offsets", &g.trim, false); err != nil {
				return err
			}
			return c.get("add_prefix_space", &g.trimPrefixSpace, false)
		}
		return nil
	case "Sequence":
		subs, err := c.list("processors")
		if err != nil {
			return err
		}
		for _, s := range subs {
			if err := s.postProcessor(g); err != nil {
				return err
			}
		}
		return nil
	}
	return c.unsupported()
}

// specialPair reads a ["token", id] pair of Bert/RobertaProcessing.
func (c *component) specialPair(name string, raw []json.RawMessage) (int, error) {
	var id int
	if len(raw) != 2 || json.Unmarshal(raw[1], &id) != nil || id < 0 {
		return 0, loadErr(c.file, c.path+"."+name, "want [\"token\", id]")
	}
	return id, nil
}

// decoder returns the per-token part of the decoder: how one vocabulary
// key becomes the bytes it stands for. Steps that act on the whole
// sequence (Fuse, Strip, Metaspace's first-space removal) do not change
// a single token's bytes.
func (c *component) decoder() (func([]byte) []byte, error) {
	switch c.typ {
	case "ByteLevel":
		return func(b []byte) []byte { return byteLevelDecode(string(b)) }, nil
	case "ByteFallback":
		return func(b []byte) []byte {
			if v, ok := parseFallback(string(b)); ok {
				return []byte{v}
			}
			return b
		}, nil
	case "Fuse", "Strip":
		return func(b []byte) []byte { return b }, nil
	case "Replace":
		p, _, err := c.pattern("pattern")
		if err != nil {
			return nil, err
		}
		var content string
		if err := c.get("content", &content, true); err != nil {
			return nil, err
		}
		if lit, ok := p.(literal); ok {
			return func(b []byte) []byte { return bytes.ReplaceAll(b, []byte(lit), []byte(content)) }, nil
		}
		rep := replaceNormalizer(p, content)
		return func(b []byte) []byte {
			n := newNormStr(string(b), 0, len(b))
			return []byte(rep(n).s)
		}, nil
	case "Metaspace":
		repl := "▁"
		if err := c.get("replacement", &repl, false); err != nil {
			return nil, err
		}
		if repl == "" {
			return nil, loadErr(c.file, c.path+".replacement", "empty")
		}
		return func(b []byte) []byte { return bytes.ReplaceAll(b, []byte(repl), []byte(" ")) }, nil
	case "Sequence":
		subs, err := c.list("decoders")
		if err != nil {
			return nil, err
		}
		fs := make([]func([]byte) []byte, 0, len(subs))
		for _, s := range subs {
			f, err := s.decoder()
			if err != nil {
				return nil, err
			}
			fs = append(fs, f)
		}
		return func(b []byte) []byte {
			for _, f := range fs {
				b = f(b)
			}
			return b
		}, nil
	}
	return nil, c.unsupported()
}

func fallbackKey(b byte) string { return fmt.Sprintf("<0x%02X>", b) }

// parseFallback reads a byte-fallback token "<0xNN>".
func parseFallback(s string) (byte, bool) {
	if len(s) != 6 || s[:3] != "<0x" || s[5] != '>' {
		return 0, false
	}
	v := 0
	for _, c := range s[3:5] {
		switch {
		case c >= '0' && c <= '9':
			v = v*16 + int(c-'0')
		case c >= 'A' && c <= 'F':
			v = v*16 + int(c-'A'+10)
		default:
			return 0, false
		}
	}
	return byte(v), true
}

// FromJSON builds a tokenizer from the contents of a Hugging Face
// tokenizer.json with a BPE model (GPT-2, Llama 3, Qwen, Gemma, Pythia
// and the like); name is used in error messages only. A component type
// or option this package does not implement is an error naming its
// field, never silently different ids.
func FromJSON(name string, data []byte) (*Tokenizer, error) {
	var tj tokenizerJSON
	if err := json.Unmarshal(data, &tj); err != nil {
		return nil, fmt.Errorf("tokenizer: %s: %w", name, err)
	}
	if len(tj.Model) == 0 || string(tj.Model) == "null" {
		return nil, loadErr(name, "model", "missing")
	}
	var mt struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(tj.Model, &mt); err != nil {
		return nil, loadErr(name, "model", "%v", err)
	}
	if mt.Type != "" && mt.Type != "BPE" {
		return nil, loadErr(name, "model.type", "%q is not supported (want BPE)", mt.Type)
	}
	m := &bpeJSON{}
	if err := json.Unmarshal(tj.Model, m); err != nil {
		return nil, loadErr(name, "model", "%v", err)
	}
	if m.Vocab == nil {
		return nil, loadErr(name, "model.vocab", "missing")
	}
	if d := m.Dropout; d != nil && *d != 0 {
		return nil, loadErr(name, "model.dropout", "%g is not supported", *d)
	}
	if v := m.ContinuingSubwordPrefix; v != nil && *v != "" {
		return nil, loadErr(name, "model.continuing_subword_prefix", "%q is not supported", *v)
	}
	if v := m.EndOfWordSuffix; v != nil && *v != "" {
		return nil, loadErr(name, "model.end_of_word_suffix", "%q is not supported", *v)
	}
	pairs := make([][2]string, len(m.Merges))
	for i, e := range m.Merges {
		if e.bad != "" {
			return nil, loadErr(name, fmt.Sprintf("model.merges[%d]", i), "%s", e.bad)
		}
		pairs[i] = e.pair
	}

	g := &general{}
	var info preTokenizerInfo
	pc, err := parseComponent(name, "pre_tokenizer", tj.PreTokenizer)
	if err != nil {
		return nil, err
	}
	if pc != nil {
		if g.preTok, err = pc.preTokenizer(true, &info); err != nil {
			return nil, err
		}
	}
	nc, err := parseComponent(name, "normalizer", tj.Normalizer)
	if err != nil {
		return nil, err
	}
	if nc != nil {
		if g.normalize, err = nc.normalizer(); err != nil {
			return nil, err
		}
	}
	decode := func(b []byte) []byte { return b }
	if info.byteLevel {
		decode = func(b []byte) []byte { return byteLevelDecode(string(b)) }
	}
	dc, err := parseComponent(name, "decoder", tj.Decoder)
	if err != nil {
		return nil, err
	}
	if dc != nil {
		if decode, err = dc.decoder(); err != nil {
			return nil, err
		}
	}

	var added []AddedToken
	plainAdded := true
	for i, a := range tj.AddedTokens {
		if a.ID == nil || *a.ID < 0 {
			return nil, loadErr(name, fmt.Sprintf("added_tokens[%d].id", i), "missing or negative")
		}
		if a.Content == "" {
			return nil, loadErr(name, fmt.Sprintf("added_tokens[%d].content", i), "empty")
		}
		tok := AddedToken{ID: *a.ID, Content: a.Content, Special: a.Special,
			LStrip: a.LStrip, RStrip: a.RStrip, SingleWord: a.SingleWord}
		added = append(added, tok)
		plainAdded = plainAdded && !a.LStrip && !a.RStrip && !a.SingleWord
		// Hugging Face gives an added token that is also a vocabulary
		// entry the vocabulary's id, whatever id the file says.
		if id, ok := m.Vocab[a.Content]; ok {
			tok.ID = id
		}
		if a.Normalized && g.normalize != nil {
			g.normTokens = append(g.normTokens, tok)
		} else {
			g.rawTokens = append(g.rawTokens, tok)
		}
	}
	t, err := build(name, m.Vocab, name, pairs, added, func(k string) []byte { return decode([]byte(k)) })
	if err != nil {
		return nil, err
	}
	bm := t.model
	bm.chars = !info.byteLevel
	if bm.chars {
		// Gemma's non-special added tokens include runs of "▁": they
		// stand for spaces as the vocabulary's do.
		for _, a := range added {
			if !a.Special {
				t.tokBytes[a.ID] = decode([]byte(a.Content))
			}
		}
	}
	bm.byteFallback, bm.fuseUnk, bm.ignoreMerges = m.ByteFallback, m.FuseUnk, m.IgnoreMerges
	if m.UnkToken != nil {
		// Hugging Face fails only when an unknown character needs the
		// missing unk token; we then drop the character instead.
		if id, ok := m.Vocab[*m.UnkToken]; ok {
			bm.unk = int32(id)
		}
	}

	ppc, err := parseComponent(name, "post_processor", tj.PostProcessor)
	if err != nil {
		return nil, err
	}
	if ppc != nil {
		if err := ppc.postProcessor(g); err != nil {
			return nil, err
		}
	}
	g.special = make([]bool, len(t.vocab))
	for _, a := range added {
		g.special[a.ID] = g.special[a.ID] || a.Special
	}
	for _, id := range append(append([]int(nil), g.prefix...), g.suffix...) {
		if id >= len(g.special) {
			return nil, loadErr(name, "post_processor", "special token id %d is beyond the vocabulary (%d)", id, len(g.special))
		}
		g.special[id] = true
	}
	g.rawMatcher = newAddedMatcher(g.rawTokens)
	g.normMatcher = newAddedMatcher(g.normTokens)
	g.fast = info.plainGPT2 && g.normalize == nil && !g.trim && !bm.chars && plainAdded
	t.gen = g
	return t, nil
}
