package features

import (
	"encoding/json"
	"time"
)

// Model is a language model whose SAEs saex hosts (Neuronpedia's Model row).
type Model struct {
	ID                   string    `json:"id"`
	DisplayName          string    `json:"displayName"`
	DisplayNameShort     string    `json:"displayNameShort"`
	CreatorID            string    `json:"creatorId"`
	TlensID              *string   `json:"tlensId"`
	Dimension            int       `json:"dimension"`
	Layers               int       `json:"layers"`
	NeuronsPerLayer      int       `json:"neuronsPerLayer"`
	Visibility           string    `json:"visibility"`
	DefaultSourceSetName *string   `json:"defaultSourceSetName"`
	DefaultSourceID      *string   `json:"defaultSourceId"`
	InferenceEnabled     bool      `json:"inferenceEnabled"`
	Instruct             bool      `json:"instruct"`
	Owner                string    `json:"owner"`
	Website              *string   `json:"website"`
	CreatedAt            time.Time `json:"createdAt"`
	UpdatedAt            time.Time `json:"updatedAt"`
}

// Release groups source sets published together (Neuronpedia's SourceRelease).
type Release struct {
	Name             string    `json:"name"`
	Description      string    `json:"description"`
	DescriptionShort *string   `json:"descriptionShort"`
	CreatorName      string    `json:"creatorName"`
	CreatorNameShort *string   `json:"creatorNameShort"`
	CreatorEmail     *string   `json:"creatorEmail"`
	CreatorID        string    `json:"creatorId"`
	Visibility       string    `json:"visibility"`
	IsNewUI          bool      `json:"isNewUi"`
	Featured         bool      `json:"featured"`
	URLs             []string  `json:"urls"`
	CreatedAt        time.Time `json:"createdAt"`
}

// SourceSet is an SAE family across layers of one model, e.g. "res-jb".
type SourceSet struct {
	ModelID             string    `json:"modelId"`
	Name                string    `json:"name"`
	Description         string    `json:"description"`
	Type                string    `json:"type"`
	CreatorName         string    `json:"creatorName"`
	CreatorEmail        *string   `json:"creatorEmail"`
	CreatorID           string    `json:"creatorId"`
	ReleaseName         *string   `json:"releaseName"`
	HasDashboards       bool      `json:"hasDashboards"`
	Visibility          string    `json:"visibility"`
	URLs                []string  `json:"urls"`
	DefaultRange        int       `json:"defaultRange"`
	DefaultShowBreaks   bool      `json:"defaultShowBreaks"`
	ShowDFA             bool      `json:"showDfa"`
	ShowCorrelated      bool      `json:"showCorrelated"`
	ShowHeadAttribution bool      `json:"showHeadAttribution"`
	ShowUmap            bool      `json:"showUmap"`
	CreatedAt           time.Time `json:"createdAt"`
	// OwnerKeyID, when not empty, is the API key that creates the set: it
	// owns the set's sources (see Source.OwnerKeyID).
	OwnerKeyID string `json:"-"`
}

// Source is one SAE, e.g. "6-res-jb" (Neuronpedia's Source row).
type Source struct {
	ID                string          `json:"id"`
	ModelID           string          `json:"modelId"`
	SetName           string          `json:"setName"`
	CreatorID         string          `json:"creatorId"`
	HasDashboards     bool            `json:"hasDashboards"`
	InferenceEnabled  bool            `json:"inferenceEnabled"`
	SAELensConfig     json.RawMessage `json:"saelensConfig"`
	SAELensRelease    *string         `json:"saelensRelease"`
	SAELensSAEID      *string         `json:"saelensSaeId"`
	HFRepoID          *string         `json:"hfRepoId"`
	HFFolderID        *string         `json:"hfFolderId"`
	Visibility        string          `json:"visibility"`
	NumPrompts        *int            `json:"num_prompts"`
	NumTokensInPrompt *int            `json:"num_tokens_in_prompt"`
	Dataset           *string         `json:"dataset"`
	Notes             *string         `json:"notes"`
	CreatedAt         time.Time       `json:"createdAt"`

	// Fields below are saex's own, not Neuronpedia's.

	// HookName is the TransformerLens hook the SAE reads, when known.
	HookName string `json:"hookName,omitempty"`
	// NumFeatures is the SAE width (d_sae) when known, else the number of stored features.
	NumFeatures int `json:"numFeatures,omitempty"`
	// Build reports dashboard computation for sources saex builds itself.
	Build *BuildStatus `json:"build,omitempty"`
	// OwnerKeyID, when not empty, is the upload key that creates the
	// source (UpsertSource sets it on insert only; SourceOwners reads it).
	OwnerKeyID string `json:"-"`
}

// Build states of a source's dashboards.
const (
	BuildPending = "pending"
	BuildRunning = "running"
	BuildDone    = "done"
	BuildFailed  = "failed"
)

// Phases of a running build (BuildStatus.Phase).
const (
	BuildPhaseTokenize = "tokenize"
	BuildPhaseEncode   = "encode"
	BuildPhaseStats    = "stats"
	BuildPhaseWrite    = "write"
)

// BuildStatus is the progress of computing a source's dashboards.
type BuildStatus struct {
	State string `json:"state"`
	// Phase is the step a running build is in: BuildPhaseTokenize,
	// BuildPhaseEncode (pass 1: the model over the corpus; ContextsDone
	// counts), BuildPhaseStats (pass 2: histograms and interval examples;
	// ContextsDone counts again) or BuildPhaseWrite (FeaturesDone counts).
	Phase         string    `json:"phase,omitempty"`
	FeaturesDone  int       `json:"featuresDone"`
	FeaturesTotal int       `json:"featuresTotal"`
	ContextsDone  int       `json:"contextsDone"`
	ContextsTotal int       `json:"contextsTotal"`
	Error         string    `json:"error,omitempty"`
	UpdatedAt     time.Time `json:"updatedAt"`
}

// SourceStats summarises a source for the home page.
type SourceStats struct {
	NumFeatures   int     // features stored
	NumDead       int     // features with maxActApprox <= 0
	MedianDensity float64 // median frac_nonzero over live features
	NumExplained  int     // features with at least one explanation other than an automatic label
	// NumAutoLabelled counts features with an automatic label (AutoLabelType).
	NumAutoLabelled int
}

// AutoLabelType is the explanation type of the labels the dashboard
// builder writes from a feature's top tokens (no explainer model): they are
// counted apart from explanations.
const AutoLabelType = "saex_top-tokens"
