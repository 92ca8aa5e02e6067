// Package features is saex's domain: models, SAE sources, features with their
// dashboards, activation examples and explanations, and the service
// interfaces that the store implements and the web layer consumes.
//
// JSON field names follow Neuronpedia's database columns and API (see
// docs/neuronpedia.md) so that Neuronpedia exports, SAEDashboard output and
// notebooks written against Neuronpedia work unchanged.
package features

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// FeatureKey identifies one feature: model id, source id ("{layer}-{set}",
// e.g. "6-res-jb") and the feature's index in its SAE.
type FeatureKey struct {
	ModelID  string
	SourceID string
	Index    int
}

func (k FeatureKey) String() string {
	return fmt.Sprintf("%s@%s:%d", k.ModelID, k.SourceID, k.Index)
}

// ValidID reports whether s can be a model, source or source-set id: letters,
// digits, '.', '_' and '-', at most 128 characters, no slashes (ids appear in
// URL paths), the first a letter or digit: what
// ^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$ matches (TestValidIDMatchesPattern).
// A loop, not that regexp: every request checks two or three ids, and
// the regexp machine cost more than the rest of the request's validation.
func ValidID(s string) bool {
	if len(s) == 0 || len(s) > 128 || !idChar[s[0]] || s[0] == '.' || s[0] == '_' || s[0] == '-' {
		return false
	}
	for i := 1; i < len(s); i++ {
		if !idChar[s[i]] {
			return false
		}
	}
	return true
}

// idChar marks the bytes an id may hold.
var idChar = func() (t [256]bool) {
	for c := range 256 {
		t[c] = 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-'
	}
	return t
}()

// MaxLayer is the largest layer number a source id may start with. Models
// have tens of layers; the bound keeps a hostile id ("99999999999-res-x")
// from reaching code that reads the layer as a number.
const MaxLayer = 99999

// MaxIndex is the largest feature index any source can have: the store
// keeps indices as 32-bit integers, as Neuronpedia's database does.
const MaxIndex = math.MaxInt32

// CheckSourceID is the one rule for source ids at every entry point (API,
// import, build): a valid id (ValidID) whose layer prefix, when it has one,
// is at most MaxLayer. The error is EINVALID and says what is wrong.
func CheckSourceID(id string) error {
	if !ValidID(id) {
		return Errorf(EINVALID, "invalid source id %q: expected letters, digits, '.', '_' or '-', at most 128 characters", id)
	}
	digits := len(id) - len(strings.TrimLeft(id, "0123456789"))
	if digits == 0 {
		return nil
	}
	layer := strings.TrimLeft(id[:digits], "0")
	if n, err := strconv.Atoi(layer); len(layer) > 9 || (err == nil && n > MaxLayer) {
		return Errorf(EINVALID, "invalid source id %q: layer %s is larger than %d", id, id[:digits], MaxLayer)
	}
	return nil
}

// ValidSourceID reports whether CheckSourceID accepts id.
func ValidSourceID(id string) bool { return CheckSourceID(id) == nil }

// ValidIndex reports whether n can be a feature index of some source.
func ValidIndex(n int) bool { return n >= 0 && n <= MaxIndex }

// Validate checks that the key names a possible feature.
func (k FeatureKey) Validate() error {
	if !ValidID(k.ModelID) {
		return Errorf(EINVALID, "invalid model id %q", k.ModelID)
	}
	if err := CheckSourceID(k.SourceID); err != nil {
		return err
	}
	if !ValidIndex(k.Index) {
		return Errorf(EINVALID, "invalid feature index %d: expected 0 to %d", k.Index, MaxIndex)
	}
	return nil
}

// ParseIndex parses a feature index as Neuronpedia writes it (a decimal
// string): EINVALID unless it is a whole number from 0 to MaxIndex.
func ParseIndex(s string) (int, error) {
	t := strings.TrimSpace(s)
	n, err := strconv.Atoi(t)
	if err != nil || !ValidIndex(n) {
		if len(t) > 32 {
			t = t[:32] + "..."
		}
		return 0, Errorf(EINVALID, "invalid feature index %q: expected a whole number from 0 to %d", t, MaxIndex)
	}
	return n, nil
}

// SourceLayer returns the layer part of a source id ("6" of "6-res-jb") and
// the set name ("res-jb"), following Neuronpedia's grammar
// "{layer}-{set}[__{extra}]".
func SourceLayer(sourceID string) (layer, setName string) {
	base, _, _ := strings.Cut(sourceID, "__")
	layer, setName, _ = strings.Cut(base, "-")
	return layer, setName
}

// Feature is one SAE latent with its dashboard: Neuronpedia's Neuron row.
// Per-feature numeric arrays are float64 (they are few and imported data may
// carry full double precision); per-token example values are float32.
type Feature struct {
	ModelID       string    `json:"modelId"`
	SourceID      string    `json:"layer"`
	Index         int       `json:"index,string"`
	SourceSetName string    `json:"sourceSetName"`
	CreatorID     string    `json:"creatorId"`
	CreatedAt     time.Time `json:"createdAt"`

	// MaxActApprox is the largest activation seen in the dashboard data.
	MaxActApprox float64 `json:"maxActApprox"`
	// FracNonzero is the activation density: the fraction of tested tokens with activation > 0.
	FracNonzero float64 `json:"frac_nonzero"`

	HasVector                  bool      `json:"hasVector"`
	Vector                     []float64 `json:"vector"`
	VectorLabel                *string   `json:"vectorLabel"`
	VectorDefaultSteerStrength *float64  `json:"vectorDefaultSteerStrength"`
	HookName                   *string   `json:"hookName"`

	// TopkCosSim* are the decoder-cosine neighbours; element 0 is the feature itself.
	TopkCosSimIndices []int     `json:"topkCosSimIndices"`
	TopkCosSimValues  []float64 `json:"topkCosSimValues"`

	NeuronAlignmentIndices    []int     `json:"neuron_alignment_indices"`
	NeuronAlignmentValues     []float64 `json:"neuron_alignment_values"`
	NeuronAlignmentL1         []float64 `json:"neuron_alignment_l1"`
	CorrelatedNeuronsIndices  []int     `json:"correlated_neurons_indices"`
	CorrelatedNeuronsPearson  []float64 `json:"correlated_neurons_pearson"`
	CorrelatedNeuronsL1       []float64 `json:"correlated_neurons_l1"`
	CorrelatedFeaturesIndices []int     `json:"correlated_features_indices"`
	CorrelatedFeaturesPearson []float64 `json:"correlated_features_pearson"`
	CorrelatedFeaturesL1      []float64 `json:"correlated_features_l1"`

	// Logit effects: bottom and top vocabulary tokens of W_dec[i] @ W_U.
	NegStr    []string  `json:"neg_str"`
	NegValues []float64 `json:"neg_values"`
	PosStr    []string  `json:"pos_str"`
	PosValues []float64 `json:"pos_values"`

	// Histograms: bar heights are counts, bar values are bin centres.
	FreqHistHeights   []float64 `json:"freq_hist_data_bar_heights"`
	FreqHistValues    []float64 `json:"freq_hist_data_bar_values"`
	LogitsHistHeights []float64 `json:"logits_hist_data_bar_heights"`
	LogitsHistValues  []float64 `json:"logits_hist_data_bar_values"`

	DecoderWeightsDist []float64 `json:"decoder_weights_dist"`

	UmapCluster            *int     `json:"umap_cluster"`
	UmapLogFeatureSparsity *float64 `json:"umap_log_feature_sparsity"`
	UmapX                  *float64 `json:"umap_x"`
	UmapY                  *float64 `json:"umap_y"`

	// Activations are the stored examples, ordered by MaxValue descending.
	Activations []*Activation `json:"activations,omitempty"`
	// Explanations are ordered best score first.
	Explanations []*Explanation `json:"explanations,omitempty"`
}

// Key returns the feature's identity.
func (f *Feature) Key() FeatureKey {
	return FeatureKey{ModelID: f.ModelID, SourceID: f.SourceID, Index: f.Index}
}

// Dead reports whether the feature never fired in its dashboard data.
func (f *Feature) Dead() bool { return f.MaxActApprox <= 0 }

// TopBin is the BinMin value that marks the "top activations" group.
const TopBin = -1

// Activation is one stored example text for one feature: Neuronpedia's
// Activation row. Tokens are display strings; Values has one entry per token.
type Activation struct {
	ID                 string    `json:"id"`
	ModelID            string    `json:"modelId"`
	SourceID           string    `json:"layer"`
	Index              int       `json:"index,string"`
	Tokens             []string  `json:"tokens"`
	Values             []float32 `json:"values"`
	MaxValue           float64   `json:"maxValue"`
	MaxValueTokenIndex int       `json:"maxValueTokenIndex"`
	MinValue           float64   `json:"minValue"`

	// Quantile group: BinMin == TopBin marks the top-activations group.
	BinMin      *float64 `json:"binMin"`
	BinMax      *float64 `json:"binMax"`
	BinContains *float64 `json:"binContains"`

	QualifyingTokenIndex *int `json:"qualifyingTokenIndex"`

	DFAValues      []float32 `json:"dfaValues"`
	DFATargetIndex *int      `json:"dfaTargetIndex"`
	DFAMaxValue    *float64  `json:"dfaMaxValue"`

	LossValues         []float32 `json:"lossValues"`
	LogitContributions *string   `json:"logitContributions"`

	DataIndex  *string   `json:"dataIndex"`
	DataSource *string   `json:"dataSource"`
	CreatorID  string    `json:"creatorId"`
	CreatedAt  time.Time `json:"createdAt"`
}

// InTopGroup reports whether the example belongs to the top-activations group.
func (a *Activation) InTopGroup() bool {
	return a.BinMin == nil || *a.BinMin == TopBin
}

// Explanation is a natural-language label of a feature.
type Explanation struct {
	ID                   string    `json:"id"`
	ModelID              string    `json:"modelId"`
	SourceID             string    `json:"layer"`
	Index                int       `json:"index,string"`
	Description          string    `json:"description"`
	TypeName             string    `json:"typeName"`             // method, e.g. "oai_token-act-pair"
	ExplanationModelName string    `json:"explanationModelName"` // explainer LLM, e.g. "gpt-4o-mini"
	AuthorID             string    `json:"authorId"`
	TriggeredByID        *string   `json:"triggeredById"`
	Notes                *string   `json:"notes"`
	Embedding            []float32 `json:"embedding"` // optional, 256-d
	ScoreV1              float64   `json:"scoreV1"`
	ScoreV2              *float64  `json:"scoreV2"`
	CreatedAt            time.Time `json:"createdAt"`

	UmapX                  *float64 `json:"umap_x,omitempty"`
	UmapY                  *float64 `json:"umap_y,omitempty"`
	UmapCluster            *int     `json:"umap_cluster,omitempty"`
	UmapLogFeatureSparsity *float64 `json:"umap_log_feature_sparsity,omitempty"`

	Scores []*ExplanationScore `json:"scores"`
}

// EmbeddingDim is the length of explanation embeddings (Neuronpedia uses
// OpenAI text-embedding-3-large at 256 dimensions).
const EmbeddingDim = 256

// ExplanationScore is one evaluation of an explanation (0..1).
type ExplanationScore struct {
	ID                        string    `json:"id"`
	ExplanationID             string    `json:"explanationId"`
	Value                     float64   `json:"value"`
	ExplanationScoreTypeName  string    `json:"explanationScoreTypeName"`
	ExplanationScoreModelName string    `json:"explanationScoreModelName"`
	InitiatedByUserID         string    `json:"initiatedByUserId"`
	JSONDetails               string    `json:"jsonDetails"`
	CreatedAt                 time.Time `json:"createdAt"`
}
