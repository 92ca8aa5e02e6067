package web

import (
	"bytes"
	"encoding/json"
	"math"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"saex/internal/features"
)

// This file parses request fields: JSON fields sent in more than one
// shape, feature indices, page numbers, free-text filters and token
// positions, each into an error naming the field.
//
// Neuronpedia's clients send some fields in more than one shape (a text or
// a list of texts, an index as a number or a string). Those fields are
// decoded as json.RawMessage and parsed here, so errors can name the field.

// isNull reports whether a raw field is absent or null.
func isNull(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) == 0 || bytes.Equal(raw, []byte("null"))
}

// parseTextOrList parses "text" or ["a", "b"]; list reports which was sent.
func parseTextOrList(field string, raw json.RawMessage) (vals []string, list bool, err error) {
	raw = bytes.TrimSpace(raw)
	if isNull(raw) {
		return nil, false, invalidField(field, "is required")
	}
	if raw[0] == '[' {
		if err := json.Unmarshal(raw, &vals); err != nil {
			return nil, true, invalidField(field, "expected a string or an array of strings")
		}
		return vals, true, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, false, invalidField(field, "expected a string or an array of strings")
	}
	return []string{s}, false, nil
}

// parseIndex parses a feature index sent as 12, "12" or 12.0: a whole
// number from 0 to features.MaxIndex, else EINVALID naming the field (a
// larger one never reaches the store, where it would not fit).
func parseIndex(field string, raw json.RawMessage) (int, error) {
	raw = bytes.TrimSpace(raw)
	if isNull(raw) {
		return 0, invalidField(field, "is required")
	}
	s := string(raw)
	if raw[0] == '"' {
		if err := json.Unmarshal(raw, &s); err != nil {
			return 0, invalidField(field, "expected a feature index")
		}
	}
	s = strings.TrimSpace(s)
	if n, err := strconv.Atoi(s); err == nil {
		if !features.ValidIndex(n) {
			return 0, invalidIndex(field, s)
		}
		return n, nil
	}
	x, err := strconv.ParseFloat(s, 64)
	if err != nil || x != math.Trunc(x) || x < 0 || x > features.MaxIndex {
		return 0, invalidIndex(field, s)
	}
	return int(x), nil
}

// invalidIndex names the field and the bounds; a long value is cut.
func invalidIndex(field, s string) error {
	if len(s) > 32 {
		s = s[:32] + "..."
	}
	return invalidField(field, "invalid feature index %q: expected a whole number from 0 to %d", s, features.MaxIndex)
}

// maxPage bounds the ?page= of listing pages: far past any real listing,
// and small enough that page times page size never overflows an offset.
const maxPage = 1_000_000

// pageNumber reads ?page=: 1 when absent, else a whole number from 1 to
// maxPage (EINVALID naming the field otherwise).
func pageNumber(q url.Values) (int, error) {
	s := q.Get("page")
	if s == "" {
		return 1, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > maxPage {
		return 0, invalidField("page", "expected a page number from 1 to %d, got %q", maxPage, clip(s))
	}
	return n, nil
}

// filterText reads a free-text filter: valid UTF-8 without NUL (PostgreSQL
// text cannot hold it), trimmed, cut to maxQueryLen characters on a
// character boundary.
func filterText(field, s string) (string, error) {
	if !utf8.ValidString(s) || strings.ContainsRune(s, 0) {
		return "", invalidField(field, "must be valid UTF-8 text without NUL")
	}
	s = strings.TrimSpace(s)
	if utf8.RuneCountInString(s) > maxQueryLen {
		cut := 0
		for range maxQueryLen {
			_, n := utf8.DecodeRuneInString(s[cut:])
			cut += n
		}
		s = strings.TrimSpace(s[:cut])
	}
	return s, nil
}

// maxTokenPosition bounds a token position sent by a form: far beyond any
// model's context, so a larger one is a client's mistake.
const maxTokenPosition = 1 << 16

// tokenPosition parses a token position from a form field.
func tokenPosition(field, s string) (int, error) {
	v, err := strconv.Atoi(s)
	if err != nil || v < 0 || v > maxTokenPosition {
		return 0, invalidField(field, "invalid token position %q: expected 0 to %d", clip(s), maxTokenPosition)
	}
	return v, nil
}

// finite reports whether every value is a finite number.
func finite[T float32 | float64](vals []T) bool {
	for _, v := range vals {
		f := float64(v)
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return false
		}
	}
	return true
}
