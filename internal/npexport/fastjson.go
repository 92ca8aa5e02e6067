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
// and leaves the rest of the row to encoding/json (decodeFeatureFast does
// the same for feature rows). Anything unusual (an
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
	return decodeRowFast(line, activationFastKeys, r, func(k int, val []byte, p, ve int) (err error) {
		switch k {
		case 0:
			if lineStr == "" {
				lineStr = string(line)
			}
			r.Tokens, err = parseStringArray(val, lineStr[p:ve])
		case 1:
			r.Values, err = parseFloat32Array(val)
		}
		return err
	})
}

var activationFastKeys = []string{"tokens", "values"}

// Feature rows are ~1.7 KB of number arrays (neighbours, histograms, top
// logits) around a few short fields: decodeFeatureFast parses the arrays by
// hand, like decodeActivationFast, and leaves the rest to encoding/json.
var featureFastKeys = []string{
	"vector", "topkCosSimValues", "neuron_alignment_values", "neuron_alignment_l1",
	"correlated_neurons_pearson", "correlated_neurons_l1", "correlated_features_pearson", "correlated_features_l1",
	"neg_values", "pos_values", "freq_hist_data_bar_heights", "freq_hist_data_bar_values",
	"logits_hist_data_bar_heights", "logits_hist_data_bar_values", "decoder_weights_dist", // float64s: 0..14
	"topkCosSimIndices", "neuron_alignment_indices", "correlated_neurons_indices", "correlated_features_indices", // ints: 15..18
	"neg_str", "pos_str", // strings: 19, 20
}

// decodeFeatureFast fills r from line; ok is false when the caller must
// fall back to json.Unmarshal.
func decodeFeatureFast(line []byte, r *featureRow) (ok bool) {
	var lineStr string
	f := &r.Feature
	floats := [...]*[]float64{&f.Vector, &f.TopkCosSimValues, &f.NeuronAlignmentValues, &f.NeuronAlignmentL1,
		&f.CorrelatedNeuronsPearson, &f.CorrelatedNeuronsL1, &f.CorrelatedFeaturesPearson, &f.CorrelatedFeaturesL1,
		&f.NegValues, &f.PosValues, &f.FreqHistHeights, &f.FreqHistValues,
		&f.LogitsHistHeights, &f.LogitsHistValues, &f.DecoderWeightsDist}
	ints := [...]*[]int{&f.TopkCosSimIndices, &f.NeuronAlignmentIndices, &f.CorrelatedNeuronsIndices, &f.CorrelatedFeaturesIndices}
	return decodeRowFast(line, featureFastKeys, r, func(k int, val []byte, p, ve int) (err error) {
		switch {
		case k < len(floats):
			*floats[k], err = parseFloat64Array(val)
		case k < len(floats)+len(ints):
			*ints[k-len(floats)], err = parseIntArray(val)
		default:
			if lineStr == "" {
				lineStr = string(line)
			}
			s, e := parseStringArray(val, lineStr[p:ve])
			if k == len(floats)+len(ints) {
				f.NegStr = s
			} else {
				f.PosStr = s
			}
			err = e
		}
		return err
	})
}

// decodeRowFast splits the JSON object in line: the value of keys[k] goes
// to take(k, value, start, end) (positions in line), every other member to
// encoding/json, which decodes them into v. It reports false when the
// caller must decode the whole line with encoding/json: take failed, the
// line is not one plain object, a key has an escape or differs from one of
// keys only in case (encoding/json matches keys case-insensitively), or
// encoding/json rejects the rest.
func decodeRowFast(line []byte, keys []string, v any, take func(k int, val []byte, p, ve int) error) bool {
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
		if bytes.IndexByte(key, '\\') >= 0 {
			return false
		}
		k := -1
		for i, name := range keys {
			if string(key) == name {
				k = i
				break
			}
			if len(key) >= len(name) && len(key) <= 3*len(name) && bytes.EqualFold(key, []byte(name)) { // 3: UTF-8 bytes of a folded letter
				return false
			}
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
		if k >= 0 {
			if take(k, val, p, ve) != nil {
				return false
			}
		} else {
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
	return json.Unmarshal(rest, v) == nil
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
	out := make([]float32, 0, 128)
	err := eachNumber(b, func(s []byte) error {
		if len(s) == 1 && s[0] >= '0' && s[0] <= '9' {
			out = append(out, float32(s[0]-'0'))
			return nil
		}
		f, err := strconv.ParseFloat(string(s), 32)
		out = append(out, float32(f))
		return err
	})
	if err != nil || len(out) == 0 {
		return nil, err
	}
	return out, nil
}

// parseFloat64Array parses [1, 0.5, -2e-3, ...] as encoding/json does
// into a []float64.
func parseFloat64Array(b []byte) ([]float64, error) {
	out := make([]float64, 0, 64)
	err := eachNumber(b, func(s []byte) error {
		if len(s) == 1 && s[0] >= '0' && s[0] <= '9' {
			out = append(out, float64(s[0]-'0'))
			return nil
		}
		f, err := strconv.ParseFloat(string(s), 64)
		out = append(out, f)
		return err
	})
	if err != nil || len(out) == 0 {
		return nil, err
	}
	return out, nil
}

// parseIntArray parses [1, -20, ...] into a []int; a fraction, an
// exponent or more than 18 digits is left to encoding/json.
func parseIntArray(b []byte) ([]int, error) {
	out := make([]int, 0, 32)
	err := eachNumber(b, func(s []byte) error {
		neg := s[0] == '-'
		if neg {
			s = s[1:]
		}
		if len(s) > 18 {
			return errSlow
		}
		n := 0
		for _, c := range s {
			if c < '0' || c > '9' {
				return errSlow
			}
			n = n*10 + int(c-'0')
		}
		if neg {
			n = -n
		}
		out = append(out, n)
		return nil
	})
	if err != nil || len(out) == 0 {
		return nil, err
	}
	return out, nil
}

// eachNumber calls fn with every element of the JSON array of numbers b
// (checked against JSON's number grammar); anything else is errSlow.
func eachNumber(b []byte, fn func(s []byte) error) error {
	if len(b) < 2 || b[0] != '[' || b[len(b)-1] != ']' {
		return errSlow
	}
	p := skipWS(b, 1)
	if p == len(b)-1 {
		return nil
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
			return errSlow
		}
		if fn(b[p:q]) != nil {
			return errSlow
		}
		p = skipWS(b, q)
		if p < len(b) && b[p] == ',' {
			p = skipWS(b, p+1)
			continue
		}
		if p == len(b)-1 && b[p] == ']' {
			return nil
		}
		return errSlow
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
