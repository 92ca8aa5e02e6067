package npexport

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
	"unicode/utf8"
)

// Activation rows are almost all "tokens" and "values": two 128-element
// arrays that encoding/json decodes through reflection at ~45 MB/s, most
// of an import's CPU. decodeActivationFast parses those two arrays by hand
// and leaves the rest of the row to encoding/json. Anything unusual (an
// escape, a null, a number it does not accept) makes it report !ok so the
// caller decodes the whole line with encoding/json, which then also gives
// the error message.

var errSlow = errors.New("slow path")

// decodeActivationFast fills r from line; ok is false when the caller must
// fall back to json.Unmarshal.
func decodeActivationFast(line []byte, r *activationRow) (ok bool) {
	// One string for the whole line: token strings are substrings of it,
	// one allocation instead of one per token.
	var lineStr string
	p := skipWS(line, 0)
	if p >= len(line) || line[p] != '{' {
		return false
	}
	rest := make([]byte, 0, 512)
	rest = append(rest, '{')
	p++
	for first := true; ; first = false {
		p = skipWS(line, p)
		if first && p < len(line) && line[p] == '}' {
			break
		}
		ks, ke, err := scanString(line, p)
		if err != nil {
			return false
		}
		key := line[ks+1 : ke-1]
		// encoding/json matches keys case-insensitively and unescapes them:
		// leave near-misses of the two keys to it.
		if bytes.IndexByte(key, '\\') >= 0 ||
			(!bytes.Equal(key, []byte("tokens")) && bytes.EqualFold(key, []byte("tokens"))) ||
			(!bytes.Equal(key, []byte("values")) && bytes.EqualFold(key, []byte("values"))) {
			return false
		}
		p = skipWS(line, ke)
		if p >= len(line) || line[p] != ':' {
			return false
		}
		p = skipWS(line, p+1)
		ve, err := skipValue(line, p)
		if err != nil {
			return false
		}
		val := line[p:ve]
		switch {
		case bytes.Equal(key, []byte("tokens")):
			if lineStr == "" {
				lineStr = string(line)
			}
			toks, err := parseStringArray(val, lineStr[p:ve])
			if err != nil {
				return false
			}
			r.Tokens = toks
		case bytes.Equal(key, []byte("values")):
			vals, err := parseFloat32Array(val)
			if err != nil {
				return false
			}
			r.Values = vals
		default:
			if len(rest) > 1 {
				rest = append(rest, ',')
			}
			rest = append(rest, line[ks:ke]...)
			rest = append(rest, ':')
			rest = append(rest, val...)
		}
		p = skipWS(line, ve)
		if p < len(line) && line[p] == ',' {
			p++
			continue
		}
		if p < len(line) && line[p] == '}' {
			break
		}
		return false
	}
	if skipWS(line, p+1) != len(line) {
		return false
	}
	rest = append(rest, '}')
	return json.Unmarshal(rest, r) == nil
}

func skipWS(b []byte, p int) int {
	for p < len(b) && (b[p] == ' ' || b[p] == '\t' || b[p] == '\n' || b[p] == '\r') {
		p++
	}
	return p
}

// scanString returns the extent [start, end) of the JSON string at p,
// quotes included.
func scanString(b []byte, p int) (int, int, error) {
	if p >= len(b) || b[p] != '"' {
		return 0, 0, errSlow
	}
	for i := p + 1; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return p, i + 1, nil
		}
	}
	return 0, 0, errSlow
}

// skipValue returns the end of the JSON value at p (not validated: the
// parts kept are validated by encoding/json later).
func skipValue(b []byte, p int) (int, error) {
	if p >= len(b) {
		return 0, errSlow
	}
	switch b[p] {
	case '"':
		_, e, err := scanString(b, p)
		return e, err
	case '[', '{':
		depth := 0
		for i := p; i < len(b); i++ {
			switch b[i] {
			case '"':
				_, e, err := scanString(b, i)
				if err != nil {
					return 0, err
				}
				i = e - 1
			case '[', '{':
				depth++
			case ']', '}':
				depth--
				if depth == 0 {
					return i + 1, nil
				}
			}
		}
		return 0, errSlow
	default:
		i := p
		for i < len(b) && b[i] != ',' && b[i] != '}' && b[i] != ']' && b[i] != ' ' && b[i] != '\t' && b[i] != '\n' && b[i] != '\r' {
			i++
		}
		if i == p {
			return 0, errSlow
		}
		return i, nil
	}
}

// parseStringArray parses ["a","b",...] whose strings have no escapes,
// no control characters and valid UTF-8; bs is b as a string, which the
// results are substrings of.
func parseStringArray(b []byte, bs string) ([]string, error) {
	if len(b) < 2 || b[0] != '[' || b[len(b)-1] != ']' {
		return nil, errSlow
	}
	out := make([]string, 0, 128)
	p := skipWS(b, 1)
	if p == len(b)-1 {
		return nil, nil
	}
	for {
		if p >= len(b) || b[p] != '"' {
			return nil, errSlow
		}
		q := p + 1
		ascii := true
		for q < len(b) && b[q] != '"' {
			c := b[q]
			if c == '\\' || c < 0x20 {
				return nil, errSlow
			}
			if c >= 0x80 {
				ascii = false
			}
			q++
		}
		if q >= len(b) {
			return nil, errSlow
		}
		raw := b[p+1 : q]
		if !ascii && !utf8.Valid(raw) {
			return nil, errSlow // encoding/json substitutes U+FFFD: let it
		}
		out = append(out, bs[p+1:q])
		p = skipWS(b, q+1)
		if b[p] == ',' {
			p = skipWS(b, p+1)
			continue
		}
		if b[p] == ']' && p == len(b)-1 {
			return out, nil
		}
		return nil, errSlow
	}
}

// parseFloat32Array parses [1, 0.5, -2e-3, ...] with JSON number syntax.
func parseFloat32Array(b []byte) ([]float32, error) {
	if len(b) < 2 || b[0] != '[' || b[len(b)-1] != ']' {
		return nil, errSlow
	}
	out := make([]float32, 0, 128)
	p := skipWS(b, 1)
	if p == len(b)-1 {
		return nil, nil
	}
	for {
		q := p
		for q < len(b) {
			c := b[q]
			if (c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E' {
				q++
				continue
			}
			break
		}
		if q == p || !validJSONNumber(b[p:q]) {
			return nil, errSlow
		}
		var v float64
		if q-p == 1 && b[p] >= '0' && b[p] <= '9' {
			v = float64(b[p] - '0')
		} else {
			f, err := strconv.ParseFloat(string(b[p:q]), 32)
			if err != nil {
				return nil, errSlow
			}
			v = f
		}
		out = append(out, float32(v))
		p = skipWS(b, q)
		if p < len(b) && b[p] == ',' {
			p = skipWS(b, p+1)
			continue
		}
		if p == len(b)-1 && b[p] == ']' {
			return out, nil
		}
		return nil, errSlow
	}
}

// validJSONNumber checks JSON's number grammar (no leading '+', no leading
// zeros, digits around '.').
func validJSONNumber(s []byte) bool {
	i := 0
	if i < len(s) && s[i] == '-' {
		i++
	}
	if i >= len(s) {
		return false
	}
	if s[i] == '0' {
		i++
	} else if s[i] >= '1' && s[i] <= '9' {
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
	} else {
		return false
	}
	if i < len(s) && s[i] == '.' {
		i++
		j := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == j {
			return false
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		j := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == j {
			return false
		}
	}
	return i == len(s)
}
