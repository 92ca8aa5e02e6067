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
// of an import's CPU. decodeActivationFast parses those arrays and the
// row's usual scalar fields by hand, and leaves any other member to
// encoding/json (decodeFeatureFast does the same for feature rows).
// Anything unusual (an escape, a null where encoding/json would keep the
// old value, a number it does not accept, a key differing only in case)
// makes it report !ok so the caller decodes the whole line with
// encoding/json, which then also gives the error message.

var errSlow = errors.New("slow path")

// decodeActivationFast fills r from line; ok is false when the caller must
// fall back to json.Unmarshal.
func decodeActivationFast(line []byte, r *activationRow) (ok bool) {
	// One string for the whole line: token strings are substrings of it,
	// one allocation instead of one per token.
	lineStr := ""
	str := func() string {
		if lineStr == "" {
			lineStr = string(line)
		}
		return lineStr
	}
	a := &r.Activation
	return decodeRowFast(line, activationFastKeys, r, func(k int, val []byte, p, ve int) (err error) {
		switch k {
		case 0:
			a.Tokens, err = parseStringArray(val, str()[p:ve])
		case 1:
			a.Values, err = parseFloat32Array(val)
		case 2, 3, 4:
			*[...]*string{&a.ID, &a.ModelID, &a.SourceID}[k-2], err = parsePlainString(val, str()[p:ve])
		case 5:
			a.CreatorID, err = parsePlainString(val, str()[p:ve])
		case 6, 7:
			*[...]*float64{&a.MaxValue, &a.MinValue}[k-6], err = parseFloat64(val)
		case 8:
			a.MaxValueTokenIndex, err = parseInt(val)
		case 9, 10, 11, 12:
			*[...]**float64{&a.BinMin, &a.BinMax, &a.BinContains, &a.DFAMaxValue}[k-9], err = parseFloat64Ptr(val)
		case 13, 14:
			*[...]**int{&a.QualifyingTokenIndex, &a.DFATargetIndex}[k-13], err = parseIntPtr(val)
		case 15, 16, 17:
			*[...]**string{&a.LogitContributions, &a.DataIndex, &a.DataSource}[k-15], err = parseStringPtr(val, str()[p:ve])
		case 18, 19:
			dst := [...]*[]float32{&a.DFAValues, &a.LossValues}[k-18]
			if string(val) == "null" {
				*dst = nil
			} else {
				*dst, err = parseFloat32Array(val)
			}
		case 20:
			r.Index, err = parsePlainIndex(val)
		case 21:
			r.CreatedAt, err = parsePlainTime(val)
		}
		return err
	})
}

var activationFastKeys = []string{"tokens", "values", "id", "modelId", "layer", "creatorId",
	"maxValue", "minValue", "maxValueTokenIndex", "binMin", "binMax", "binContains", "dfaMaxValue",
	"qualifyingTokenIndex", "dfaTargetIndex", "logitContributions", "dataIndex", "dataSource",
	"dfaValues", "lossValues", "index", "createdAt"}

// The scalar parsers below take what encoding/json would decode the same
// way and return errSlow for anything else (escapes, null where
// encoding/json would keep the old value, a number it would reject).

// parsePlainString parses a JSON string without escapes or control
// characters, in valid UTF-8; vs is val as a string.
func parsePlainString(val []byte, vs string) (string, error) {
	if len(val) < 2 || val[0] != '"' || val[len(val)-1] != '"' {
		return "", errSlow
	}
	ascii := true
	for _, c := range val[1 : len(val)-1] {
		if c == '\\' || c == '"' || c < 0x20 {
			return "", errSlow
		}
		ascii = ascii && c < 0x80
	}
	if !ascii && !utf8.Valid(val) {
		return "", errSlow
	}
	return vs[1 : len(vs)-1], nil
}

func parseStringPtr(val []byte, vs string) (*string, error) {
	if string(val) == "null" {
		return nil, nil
	}
	s, err := parsePlainString(val, vs)
	if err != nil {
		return nil, err
	}
	return &s, nil
}

func parseFloat64(val []byte) (float64, error) {
	if !validJSONNumber(val) {
		return 0, errSlow
	}
	v, err := strconv.ParseFloat(string(val), 64)
	if err != nil {
		return 0, errSlow
	}
	return v, nil
}

func parseFloat64Ptr(val []byte) (*float64, error) {
	if string(val) == "null" {
		return nil, nil
	}
	v, err := parseFloat64(val)
	if err != nil {
		return nil, err
	}
	return &v, nil
}

// parseInt parses an integer of at most 18 digits (no fraction or exponent).
func parseInt(val []byte) (int, error) {
	s := val
	if len(s) > 0 && s[0] == '-' {
		s = s[1:]
	}
	if len(s) == 0 || len(s) > 18 || (s[0] == '0' && len(s) > 1) {
		return 0, errSlow
	}
	n := 0
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, errSlow
		}
		n = n*10 + int(c-'0')
	}
	if val[0] == '-' {
		n = -n
	}
	return n, nil
}

func parseIntPtr(val []byte) (*int, error) {
	if string(val) == "null" {
		return nil, nil
	}
	n, err := parseInt(val)
	if err != nil {
		return nil, err
	}
	return &n, nil
}

// parsePlainIndex reads a feature index written as a number or as a plain
// string of ASCII characters, as flexIndex does.
func parsePlainIndex(val []byte) (flexIndex, error) {
	for _, c := range val {
		if c == '\\' || c < 0x20 || c >= 0x80 {
			return 0, errSlow
		}
	}
	if len(val) > 0 && val[0] != '"' && !validJSONNumber(val) {
		return 0, errSlow // strconv.Atoi takes "+5" and "05"; JSON does not
	}
	var x flexIndex
	if x.UnmarshalJSON(val) != nil {
		return 0, errSlow
	}
	return x, nil
}

// parsePlainTime reads a timestamp written as a plain ASCII string, as
// npTime does.
func parsePlainTime(val []byte) (npTime, error) {
	if len(val) < 2 || val[0] != '"' || val[len(val)-1] != '"' {
		return npTime{}, errSlow
	}
	for _, c := range val[1 : len(val)-1] {
		if c == '\\' || c == '"' || c < 0x20 || c >= 0x80 {
			return npTime{}, errSlow
		}
	}
	t, err := parseNPTime(string(val[1 : len(val)-1]))
	if err != nil {
		return npTime{}, errSlow
	}
	return npTime{t}, nil
}

// Feature rows are ~1.7 KB of number arrays (neighbours, histograms, top
// logits) around a few short fields: decodeFeatureFast parses the arrays and
// the usual scalars by hand, like decodeActivationFast, and leaves anything
// else to encoding/json.
var featureFastKeys = []string{
	"vector", "topkCosSimValues", "neuron_alignment_values", "neuron_alignment_l1",
	"correlated_neurons_pearson", "correlated_neurons_l1", "correlated_features_pearson", "correlated_features_l1",
	"neg_values", "pos_values", "freq_hist_data_bar_heights", "freq_hist_data_bar_values",
	"logits_hist_data_bar_heights", "logits_hist_data_bar_values", "decoder_weights_dist", // float64s: 0..14
	"topkCosSimIndices", "neuron_alignment_indices", "correlated_neurons_indices", "correlated_features_indices", // ints: 15..18
	"neg_str", "pos_str", // strings: 19, 20
	"modelId", "layer", "sourceSetName", "creatorId", // 21..24
	"maxActApprox", "frac_nonzero", // 25, 26
	"vectorLabel", "hookName", // 27, 28
	"vectorDefaultSteerStrength", "umap_log_feature_sparsity", "umap_x", "umap_y", // 29..32
	"umap_cluster", "hasVector", "index", "createdAt", // 33..36
}

// decodeFeatureFast fills r from line; ok is false when the caller must
// fall back to json.Unmarshal.
func decodeFeatureFast(line []byte, r *featureRow) (ok bool) {
	lineStr := ""
	str := func() string {
		if lineStr == "" {
			lineStr = string(line)
		}
		return lineStr
	}
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
		case k == 19 || k == 20:
			*[...]*[]string{&f.NegStr, &f.PosStr}[k-19], err = parseStringArray(val, str()[p:ve])
		case k <= 24:
			*[...]*string{&f.ModelID, &f.SourceID, &f.SourceSetName, &f.CreatorID}[k-21], err = parsePlainString(val, str()[p:ve])
		case k <= 26:
			*[...]*float64{&f.MaxActApprox, &f.FracNonzero}[k-25], err = parseFloat64(val)
		case k <= 28:
			*[...]**string{&f.VectorLabel, &f.HookName}[k-27], err = parseStringPtr(val, str()[p:ve])
		case k <= 32:
			*[...]**float64{&f.VectorDefaultSteerStrength, &f.UmapLogFeatureSparsity, &f.UmapX, &f.UmapY}[k-29], err = parseFloat64Ptr(val)
		case k == 33:
			f.UmapCluster, err = parseIntPtr(val)
		case k == 34:
			switch string(val) {
			case "true", "false":
				f.HasVector = string(val) == "true"
			default:
				err = errSlow
			}
		case k == 35:
			r.Index, err = parsePlainIndex(val)
		case k == 36:
			r.CreatedAt, err = parsePlainTime(val)
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
	// rest gathers the members left to encoding/json; activation rows
	// usually have none, so it is allocated on the first.
	var rest []byte
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
		// An exact match first: the keys are distinct even folded, so a key
		// equal to one cannot fold to another, and the fold check (a fifth
		// of this loop's time when done for every key passed) is needed
		// only for keys that match none.
		k := -1
		for i, name := range keys {
			if string(key) == name {
				k = i
				break
			}
		}
		if k < 0 {
			for _, name := range keys {
				if len(key) >= len(name) && len(key) <= 3*len(name) && bytes.EqualFold(key, []byte(name)) { // 3: UTF-8 bytes of a folded letter
					return false
				}
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
			if rest == nil {
				rest = make([]byte, 0, 512)
				rest = append(rest, '{')
			} else {
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
	if rest == nil {
		return true // every member was taken
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
	out := make([]string, 0, arrayLen(b))
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

// arrayLen bounds the number of elements of the JSON array b by its commas
// (a string may hold more): one vectorised count sizes the result at once
// instead of a fixed guess, too large for 64-token examples and too small
// for wide rows.
func arrayLen(b []byte) int {
	return bytes.Count(b, []byte{','}) + 1
}

// parseFloat32Array parses [1, 0.5, -2e-3, ...] with JSON number syntax.
func parseFloat32Array(b []byte) ([]float32, error) {
	out := make([]float32, 0, arrayLen(b))
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
	out := make([]float64, 0, arrayLen(b))
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
	out := make([]int, 0, arrayLen(b))
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
