package web

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"
	"strings"
)

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

// parseIndex parses a feature index sent as 12, "12" or 12.0.
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
		if n < 0 {
			return 0, invalidField(field, "invalid feature index %q", s)
		}
		return n, nil
	}
	x, err := strconv.ParseFloat(s, 64)
	if err != nil || x != math.Trunc(x) || x < 0 || x > math.MaxInt32 {
		return 0, invalidField(field, "invalid feature index %q", s)
	}
	return int(x), nil
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
