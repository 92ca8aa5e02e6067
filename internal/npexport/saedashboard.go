package npexport

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"encoding/json"

	"saex/internal/features"
)

// Dashboard is one SAEDashboard batch file converted to features.
type Dashboard struct {
	ModelID, SourceID, SetName string
	// From the first feature that has them (they are per-run settings).
	NumPrompts, NumTokensInPrompt *int
	Dataset                       *string
	Features                      []*features.Feature
	Lines                         Lines
}

type sdActivation struct {
	BinMin               *float64  `json:"bin_min"`
	BinMax               *float64  `json:"bin_max"`
	BinContains          *float64  `json:"bin_contains"`
	Tokens               []string  `json:"tokens"`
	Values               []float32 `json:"values"`
	QualifyingTokenIndex *int      `json:"qualifying_token_index"`
	DFAValues            []float32 `json:"dfa_values"`
	DFAMaxValue          *float64  `json:"dfa_maxValue"`
	DFATargetIndex       *int      `json:"dfa_targetIndex"`
}

type sdFeature struct {
	features.Feature                // the snake_case fields share Neuronpedia's names
	FeatureIndex     *int           `json:"feature_index"`
	NPromptsTotal    *int           `json:"n_prompts_total"`
	NTokensInPrompt  *int           `json:"n_tokens_in_prompt"`
	Dataset          *string        `json:"dataset"`
	Activations      []sdActivation `json:"activations"`
}

type sdBatch struct {
	ModelID     *string     `json:"model_id"`
	Layer       *flexString `json:"layer"`
	SAESet      *string     `json:"sae_set"`
	SAEIDSuffix *string     `json:"sae_id_suffix"`
	Features    []sdFeature `json:"features"`
}

// ParseDashboard converts an SAEDashboard batch file (model_id, layer,
// sae_set, features[]) the way Neuronpedia's converter does: per example
// maxValue/maxValueTokenIndex/minValue from its values, maxActApprox the
// largest maxValue. Example ids are derived from the feature and position
// (stable across reimports); created is their and the features' timestamp.
func ParseDashboard(f *File, created time.Time) (*Dashboard, error) {
	var b sdBatch
	dec := json.NewDecoder(bytes.NewReader(f.Data))
	if err := dec.Decode(&b); err != nil {
		return nil, &FileError{Path: f.Path, Line: lineOfError(f.Data, err, dec), Err: describeJSONError(err)}
	}
	fail := func(err error) error { return &FileError{Path: f.Path, Line: 1, Err: err} }
	if b.ModelID == nil || b.Layer == nil || b.SAESet == nil || b.Features == nil {
		return nil, fail(errors.New("not an SAEDashboard batch: need model_id, layer, sae_set and features"))
	}
	sourceID := string(*b.Layer) + "-" + *b.SAESet
	if b.SAEIDSuffix != nil && *b.SAEIDSuffix != "" {
		sourceID += "__" + *b.SAEIDSuffix
	}
	d := &Dashboard{ModelID: *b.ModelID, SourceID: sourceID, SetName: *b.SAESet, Lines: Lines{}}
	if !features.ValidID(d.ModelID) || !features.ValidSourceID(d.SourceID) || !features.ValidID(d.SetName) {
		return nil, fail(fmt.Errorf("invalid model %q, layer %q or sae_set %q", d.ModelID, string(*b.Layer), d.SetName))
	}
	created = created.UTC().Truncate(time.Microsecond)
	seen := map[int]bool{}
	for i := range b.Features {
		sf := &b.Features[i]
		if sf.FeatureIndex == nil || *sf.FeatureIndex < 0 || *sf.FeatureIndex > 1<<31-1 {
			return nil, fail(fmt.Errorf("features[%d]: missing or invalid feature_index", i))
		}
		idx := *sf.FeatureIndex
		if seen[idx] {
			return nil, fail(fmt.Errorf("features[%d]: feature %d appears twice", i, idx))
		}
		seen[idx] = true
		d.Lines[idx] = 1
		if d.NumPrompts == nil {
			d.NumPrompts, d.NumTokensInPrompt, d.Dataset = sf.NPromptsTotal, sf.NTokensInPrompt, sf.Dataset
		}
		ft := sf.Feature
		ft.ModelID, ft.SourceID, ft.Index, ft.SourceSetName, ft.CreatedAt = d.ModelID, d.SourceID, idx, d.SetName, created
		ft.HasVector = len(ft.Vector) > 0
		ft.Activations, ft.Explanations = nil, nil
		nilEmpty(&ft)
		for j, sa := range sf.Activations {
			if len(sa.Values) != len(sa.Tokens) {
				return nil, fail(fmt.Errorf("feature %d activation %d: %d tokens but %d values", idx, j, len(sa.Tokens), len(sa.Values)))
			}
			a := &features.Activation{
				ID: dashboardActivationID(d.ModelID, d.SourceID, idx, j), ModelID: d.ModelID, SourceID: d.SourceID, Index: idx,
				Tokens: sa.Tokens, Values: sa.Values, BinMin: sa.BinMin, BinMax: sa.BinMax, BinContains: sa.BinContains,
				QualifyingTokenIndex: sa.QualifyingTokenIndex, DFAValues: sa.DFAValues, DFAMaxValue: sa.DFAMaxValue,
				DFATargetIndex: sa.DFATargetIndex, CreatedAt: created,
			}
			for k, v := range sa.Values {
				if k == 0 || float64(v) > a.MaxValue {
					a.MaxValue, a.MaxValueTokenIndex = float64(v), k
				}
				if k == 0 || float64(v) < a.MinValue {
					a.MinValue = float64(v)
				}
			}
			if j == 0 || a.MaxValue > ft.MaxActApprox {
				ft.MaxActApprox = a.MaxValue
			}
			nilEmpty(a)
			ft.Activations = append(ft.Activations, a)
		}
		d.Features = append(d.Features, &ft)
	}
	return d, nil
}

// dashboardActivationID is a stable 25-character id for example j of a feature.
func dashboardActivationID(model, source string, index, j int) string {
	h := sha256.Sum256([]byte(model + "\x00" + source + "\x00" + strconv.Itoa(index) + "\x00" + strconv.Itoa(j)))
	return "sd" + hex.EncodeToString(h[:])[:23]
}

// lineOfError finds the line of a JSON decode error in data.
func lineOfError(data []byte, err error, dec *json.Decoder) int {
	off := dec.InputOffset()
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		off = se.Offset
	case errors.As(err, &te):
		off = te.Offset
	}
	if off > int64(len(data)) {
		off = int64(len(data))
	}
	return strings.Count(string(data[:off]), "\n") + 1
}
