package features

import (
	"context"
	"time"
)

// RegistryService creates models and source sets on behalf of an API key
// (Neuronpedia's /api/model/new and /api/source-set/new): rows that did
// not exist, never replacing one (ECONFLICT when the id is taken).
type RegistryService interface {
	// CreateModel inserts m and fills in its timestamps.
	CreateModel(ctx context.Context, m *Model) error
	// CreateSourceSet inserts s with one source "{layer}-{name}" for each
	// of the model's layers, all or nothing (ENOTFOUND without the model),
	// and returns the sources.
	CreateSourceSet(ctx context.Context, s *SourceSet) ([]*Source, error)
	// GetSourceSet returns a model's source set with its sources (ENOTFOUND
	// when either is missing).
	GetSourceSet(ctx context.Context, modelID, name string) (*SourceSet, []*Source, error)
}

// List is a named collection of features kept by one API key
// (Neuronpedia's List).
type List struct {
	ID              string    `json:"id"`
	Name            string    `json:"name"`
	Description     string    `json:"description"`
	DefaultTestText *string   `json:"defaultTestText"`
	UserID          string    `json:"userId"`
	CreatedAt       time.Time `json:"createdAt"`
	UpdatedAt       time.Time `json:"updatedAt"`
}

// ListFeature is a feature's membership of a list (Neuronpedia's
// ListsOnNeurons).
type ListFeature struct {
	ListID      string    `json:"listId"`
	ModelID     string    `json:"modelId"`
	SourceID    string    `json:"layer"`
	Index       int       `json:"index,string"`
	Description string    `json:"description"`
	UserID      string    `json:"userId"`
	AddedAt     time.Time `json:"addedAt"`
}

// Key returns the member feature's identity.
func (lf *ListFeature) Key() FeatureKey {
	return FeatureKey{ModelID: lf.ModelID, SourceID: lf.SourceID, Index: lf.Index}
}

// ListService keeps lists. Owner is the API key id that created a list;
// only it may change the list (EFORBIDDEN otherwise).
type ListService interface {
	// CreateList inserts l, filling in its ID and timestamps.
	CreateList(ctx context.Context, l *List) error
	// GetList returns the list and its members in the order added.
	GetList(ctx context.Context, id string) (*List, []*ListFeature, error)
	// AddListFeatures adds members, all or none (ENOTFOUND for a missing
	// feature); a feature already in the list keeps its row. It returns the
	// rows added.
	AddListFeatures(ctx context.Context, listID, owner string, members []*ListFeature) ([]*ListFeature, error)
	// RemoveListFeature removes one member (ENOTFOUND when it is not one).
	RemoveListFeature(ctx context.Context, listID, owner string, key FeatureKey) error
	// ListsOwned returns the owner's lists, newest first.
	ListsOwned(ctx context.Context, owner string) ([]*List, error)
	// ListsWithFeature returns the memberships of a feature with their lists.
	ListsWithFeature(ctx context.Context, key FeatureKey) ([]*ListFeature, []*List, error)
}

// NewVector is a custom steering vector to store (Neuronpedia keeps them
// as Neuron rows with hasVector in a source "{layer}-neuronpedia-{hook}").
type NewVector struct {
	ModelID              string
	Layer                int
	HookType             string // "hook_resid_pre" or "hook_resid_post"
	Values               []float64
	Label                string
	DefaultSteerStrength float64
	Owner                string // API key id
}

// VectorSourceSetSuffix maps a vector hook type to the suffix of the source
// set its vectors are stored under ("neuronpedia-" + suffix).
var VectorSourceSetSuffix = map[string]string{"hook_resid_pre": "resid-pre", "hook_resid_post": "resid-post"}

// VectorService stores custom steering vectors as features.
type VectorService interface {
	// CreateVector stores v as the next feature of its layer's vector
	// source (created on first use) and returns that feature.
	CreateVector(ctx context.Context, v *NewVector) (*Feature, error)
	// DeleteVector removes a vector feature the owner created (ENOTFOUND
	// when there is none, EFORBIDDEN when another key created it).
	DeleteVector(ctx context.Context, key FeatureKey, owner string) error
	// VectorsOwned returns the owner's vectors, newest first.
	VectorsOwned(ctx context.Context, owner string) ([]*Feature, error)
}

// ExplanationExporter reads a source's explanations in bulk
// (Neuronpedia's explanation export).
type ExplanationExporter interface {
	// ExportExplanations returns explanations offset..offset+limit-1 of the
	// source, ordered by feature index (ENOTFOUND for an unknown source).
	ExportExplanations(ctx context.Context, modelID, sourceID string, offset, limit int) ([]*Explanation, error)
}
