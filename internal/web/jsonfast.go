package web

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"saex/internal/features"
)

// The feature JSON is the API's hottest path: a feature carries tens of
// examples of 128 tokens, and encoding/json spent more CPU on them than the
// database did. Examples are therefore written by hand here, byte for byte
// as encoding/json writes an apiActivation (TestFeatureJSONMatchesEncodingJSON
// and FuzzActivationJSON check that); the feature row and its explanations
// still go through encoding/json.

// writeFeatures writes features as encoding/json would write
// []apiFeature (or one apiFeature when one is true), each followed by the
// members in extra (nil for none).
func (s *Server) writeFeatures(w http.ResponseWriter, r *http.Request, fs []*features.Feature, one bool, extra []byte) {
	s.withFeatureJSON(w, r, fs, one, extra, func(b []byte) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(b)
	})
}

// withFeatureJSON encodes features as writeFeatures does into a pooled
// buffer and hands it to send (which must not keep it); an encoding error
// is answered as a 500.
func (s *Server) withFeatureJSON(w http.ResponseWriter, r *http.Request, fs []*features.Feature, one bool, extra []byte, send func([]byte)) {
	bp := featureBufs.Get().(*[]byte)
	b := (*bp)[:0]
	defer func() {
		if cap(b) <= maxPooledBuf {
			*bp = b
			featureBufs.Put(bp)
		}
	}()
	var err error
	if !one {
		b = append(b, '[')
	}
	for i, f := range fs {
		if i > 0 {
			b = append(b, ',')
		}
		if b, err = appendFeatureJSON(b, f, extra); err != nil {
			s.apiError(w, r, features.Wrap(features.EINTERNAL, err, "encode feature %s", f.Key()))
			return
		}
	}
	if !one {
		b = append(b, ']')
	}
	b = append(b, '\n')
	send(b)
}

// featureBufs recycles the buffers features are encoded into (a feature's
// JSON is 100-200 KB: growing a fresh buffer each time showed in profiles).
var featureBufs = sync.Pool{New: func() any { b := make([]byte, 0, 256<<10); return &b }}

// maxPooledBuf is the largest buffer kept for reuse.
const maxPooledBuf = 4 << 20

// appendFeatureJSON appends the JSON of newAPIFeature(f), then extra (a
// fragment of further members, `"name":value,...`, or nil) before the
// closing brace.
func appendFeatureJSON(b []byte, f *features.Feature, extra []byte) ([]byte, error) {
	head, err := json.Marshal(struct {
		*features.Feature
		MaxActApprox float32 `json:"maxActApprox"`
	}{featureRow(f), float32(f.MaxActApprox)})
	if err != nil {
		return nil, err
	}
	b = append(b, head[:len(head)-1]...) // without its closing brace
	b = append(b, `,"activations":[`...)
	for i, a := range f.Activations {
		if i > 0 {
			b = append(b, ',')
		}
		if b, err = appendActivation(b, a); err != nil {
			return nil, err
		}
	}
	b = append(b, `],"explanations":`...)
	exps := newAPIFeature(&features.Feature{Explanations: f.Explanations}).Explanations
	tail, err := json.Marshal(exps)
	if err != nil {
		return nil, err
	}
	b = append(b, tail...)
	if len(extra) > 0 {
		b = append(b, ',')
		b = append(b, extra...)
	}
	return append(b, '}'), nil
}

// appendActivation appends the JSON of newAPIActivation(a): the fields of
// features.Activation in declaration order but for those apiActivation
// shadows, then apiActivation's own.
func appendActivation(b []byte, a *features.Activation) ([]byte, error) {
	if a == nil {
		return append(b, "null"...), nil
	}
	var err error
	b = append(b, `{"id":`...)
	b = appendJSONString(b, a.ID)
	b = append(b, `,"modelId":`...)
	b = appendJSONString(b, a.ModelID)
	b = append(b, `,"layer":`...)
	b = appendJSONString(b, a.SourceID)
	b = append(b, `,"index":"`...)
	b = strconv.AppendInt(b, int64(a.Index), 10)
	b = append(b, `","tokens":`...)
	b = appendTokens(b, a.Tokens)
	b = append(b, `,"values":`...)
	if b, err = appendFloat32s(b, a.Values); err != nil {
		return nil, err
	}
	b = append(b, `,"maxValueTokenIndex":`...)
	b = strconv.AppendInt(b, int64(a.MaxValueTokenIndex), 10)
	for _, p := range []struct {
		name string
		v    *float64
	}{{`,"binMin":`, a.BinMin}, {`,"binMax":`, a.BinMax}, {`,"binContains":`, a.BinContains}} {
		b = append(b, p.name...)
		if b, err = appendFloatPtr(b, p.v); err != nil {
			return nil, err
		}
	}
	b = append(b, `,"qualifyingTokenIndex":`...)
	b = appendIntPtr(b, a.QualifyingTokenIndex)
	b = append(b, `,"dfaTargetIndex":`...)
	b = appendIntPtr(b, a.DFATargetIndex)
	b = append(b, `,"dfaMaxValue":`...)
	if b, err = appendFloatPtr(b, a.DFAMaxValue); err != nil {
		return nil, err
	}
	b = append(b, `,"logitContributions":`...)
	b = appendStringPtr(b, a.LogitContributions)
	b = append(b, `,"dataIndex":`...)
	b = appendStringPtr(b, a.DataIndex)
	b = append(b, `,"dataSource":`...)
	b = appendStringPtr(b, a.DataSource)
	b = append(b, `,"creatorId":`...)
	b = appendJSONString(b, a.CreatorID)
	b = append(b, `,"createdAt":`...)
	if b, err = appendTime(b, a.CreatedAt); err != nil {
		return nil, err
	}
	// apiActivation's own fields.
	b = append(b, `,"maxValue":`...)
	if b, err = appendFloat32s1(b, float32(a.MaxValue)); err != nil {
		return nil, err
	}
	b = append(b, `,"minValue":`...)
	if b, err = appendFloat32s1(b, float32(a.MinValue)); err != nil {
		return nil, err
	}
	b = append(b, `,"dfaValues":`...)
	if b, err = appendFloat32s(b, orEmpty(a.DFAValues)); err != nil {
		return nil, err
	}
	b = append(b, `,"lossValues":`...)
	if b, err = appendFloat32s(b, orEmpty(a.LossValues)); err != nil {
		return nil, err
	}
	b = append(b, `,"zQIndices":[],"zKIndices":[],"zValues":[],"source":`...)
	b = appendJSONString(b, a.SourceID)
	return append(b, '}'), nil
}

// appendFloat32s1 writes one float32 as encoding/json does.
func appendFloat32s1(b []byte, v float32) ([]byte, error) {
	return appendJSONFloat(b, float64(v), 32)
}

// appendTokens appends token pieces as the API sends them
// (features.TokenText: U+FFFD for the bytes of a split character).
func appendTokens(b []byte, ss []string) []byte {
	if ss == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i, s := range ss {
		if i > 0 {
			b = append(b, ',')
		}
		// Most tokens are plain ASCII: the one scan that finds nothing to
		// escape also proves them valid UTF-8 (a separate validity pass
		// over every token cost as much as the copy).
		plain := plainJSONPrefix(s)
		if plain < len(s) && !utf8.ValidString(s[plain:]) { // s[:plain] is ASCII
			s, plain = features.TokenText(s), 0
		}
		b = appendScannedJSONString(b, s, plain)
	}
	return append(b, ']')
}

func appendFloat32s(b []byte, vs []float32) ([]byte, error) {
	if vs == nil {
		return append(b, "null"...), nil
	}
	b = append(b, '[')
	var err error
	for i, v := range vs {
		if i > 0 {
			b = append(b, ',')
		}
		if v == 0 { // most values of an example: skip the formatter
			b = append(b, '0')
			continue
		}
		if b, err = appendJSONFloat(b, float64(v), 32); err != nil {
			return nil, err
		}
	}
	return append(b, ']'), nil
}

func appendFloatPtr(b []byte, p *float64) ([]byte, error) {
	if p == nil {
		return append(b, "null"...), nil
	}
	return appendJSONFloat(b, *p, 64)
}

func appendIntPtr(b []byte, p *int) []byte {
	if p == nil {
		return append(b, "null"...)
	}
	return strconv.AppendInt(b, int64(*p), 10)
}

func appendStringPtr(b []byte, p *string) []byte {
	if p == nil {
		return append(b, "null"...)
	}
	return appendJSONString(b, *p)
}

// appendTime writes a time as time.Time's MarshalJSON does (RFC 3339 with
// nanoseconds, in quotes).
func appendTime(b []byte, t time.Time) ([]byte, error) {
	if y := t.Year(); y < 0 || y > 9999 {
		return nil, fmt.Errorf("time %v: year outside [0,9999]", t)
	}
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"'), nil
}

// appendJSONFloat writes a number the way encoding/json does (ES6 number
// formatting: plain decimals, exponents only for very small or large
// magnitudes, no zero-padded exponent). bits is 32 for float32 values.
func appendJSONFloat(b []byte, f float64, bits int) ([]byte, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return nil, fmt.Errorf("json: unsupported value: %v", f)
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 {
		if bits == 64 && (abs < 1e-6 || abs >= 1e21) || bits == 32 && (float32(abs) < 1e-6 || float32(abs) >= 1e21) {
			format = 'e'
		}
	}
	b = strconv.AppendFloat(b, f, format, -1, bits)
	if format == 'e' { // e-07 -> e-7
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b, nil
}

const hexDigits = "0123456789abcdef"

// appendJSONString writes s as a JSON string the way encoding/json does
// with HTML escaping on (its default): <, > and & as \u00XX, control
// characters escaped, invalid UTF-8 as \ufffd, U+2028 and U+2029 escaped.
func appendJSONString(b []byte, s string) []byte {
	return appendScannedJSONString(b, s, plainJSONPrefix(s))
}

// plainJSONPrefix is the length of s's prefix that JSON copies as it is.
func plainJSONPrefix(s string) int {
	i := 0
	for i < len(s) && jsonPlain[s[i]] {
		i++
	}
	return i
}

// appendScannedJSONString is appendJSONString for an s whose first plain
// bytes are known to need no escaping. Fast path: most strings (tokens
// above all) have nothing to escape.
func appendScannedJSONString(b []byte, s string, plain int) []byte {
	if plain == len(s) {
		b = append(b, '"')
		b = append(b, s...)
		return append(b, '"')
	}
	return appendJSONStringSlow(b, s)
}

// jsonPlain marks the bytes appendJSONString copies as they are: printable
// ASCII but for '"', '\\' and the HTML-escaped '<', '>' and '&'.
var jsonPlain = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
	return t
}()

// appendJSONStringSlow is appendJSONString for strings with something to escape.
func appendJSONStringSlow(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
