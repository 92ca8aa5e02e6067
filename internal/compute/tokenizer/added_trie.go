package tokenizer

import (
	"unicode"
	"unicode/utf8"
)

// addedMatcher finds added tokens in text, leftmost-longest like Hugging
// Face's Aho-Corasick matcher, in time linear in the text for thousands
// of tokens (Gemma 3 has 6,415). It is a byte trie.
type addedMatcher struct {
	nodes []trieNode
	first [256]bool // bytes that start some token: a fast skip
}

type trieNode struct {
	next map[byte]int32
	tok  int32 // index into tokens of the token ending here, -1 if none
}

func newAddedMatcher(tokens []AddedToken) *addedMatcher {
	m := &addedMatcher{nodes: []trieNode{{tok: -1}}}
	for k, a := range tokens {
		if a.Content == "" {
			continue
		}
		m.first[a.Content[0]] = true
		n := int32(0)
		for i := 0; i < len(a.Content); i++ {
			c := a.Content[i]
			nx, ok := m.nodes[n].next[c]
			if !ok {
				if m.nodes[n].next == nil {
					m.nodes[n].next = make(map[byte]int32)
				}
				nx = int32(len(m.nodes))
				m.nodes[n].next[c] = nx
				m.nodes = append(m.nodes, trieNode{tok: -1})
			}
			n = nx
		}
		if m.nodes[n].tok < 0 {
			m.nodes[n].tok = int32(k)
		}
	}
	return m
}

// addedMatch is one added token found in text: the byte range it
// replaces (widened by lstrip/rstrip: that whitespace belongs to no
// token), the range of its content (its offsets, as in Hugging Face) and
// the token's index.
type addedMatch struct {
	start, end   int
	contentStart int
	contentEnd   int
	tok          int
}

// find returns the matches of tokens in s, in order and not overlapping.
func (m *addedMatcher) find(s string, tokens []AddedToken) []addedMatch {
	var out []addedMatch
	if m == nil || len(m.nodes[0].next) == 0 {
		return nil
	}
	prevEnd := 0
	for i := 0; i < len(s); {
		if !m.first[s[i]] {
			i++
			continue
		}
		best, bestEnd := -1, 0
		n := int32(0)
		for j := i; j < len(s); j++ {
			nx, ok := m.nodes[n].next[s[j]]
			if !ok {
				break
			}
			n = nx
			if t := m.nodes[n].tok; t >= 0 {
				best, bestEnd = int(t), j+1
			}
		}
		if best < 0 {
			i++
			continue
		}
		a := tokens[best]
		if a.SingleWord && !singleWord(s, i, bestEnd) {
			// Hugging Face skips a match that fails single_word and
			// goes on after it.
			i = bestEnd
			continue
		}
		start, end := i, bestEnd
		if a.LStrip {
			for start > prevEnd {
				r, w := utf8.DecodeLastRuneInString(s[prevEnd:start])
				if !unicode.IsSpace(r) {
					break
				}
				start -= w
			}
		}
		if a.RStrip {
			for end < len(s) {
				r, w := utf8.DecodeRuneInString(s[end:])
				if !unicode.IsSpace(r) {
					break
				}
				end += w
			}
		}
		out = append(out, addedMatch{start, end, i, bestEnd, best})
		prevEnd, i = end, end
	}
	return out
}
