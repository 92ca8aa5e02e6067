package features

import "context"

// NeighbourReader is implemented by a store that can read a feature and the
// labels of its decoder-cosine neighbours in one round trip: the feature
// page shows both, and a second round trip for the neighbours cost as much
// as the rest of the page's reads.
type NeighbourReader interface {
	// GetFeatureWithNeighbours is GetFeature plus the best explanation (the
	// one FeatureSummary.Explanation holds) of each feature among the first
	// n entries of its TopkCosSimIndices that has one, keyed by index.
	GetFeatureWithNeighbours(ctx context.Context, key FeatureKey, opts FeatureOptions, n int) (*Feature, map[int]string, error)
}

// FeatureRelations are the rows GET /api/feature includes with a feature
// besides its source: its model (nil when the model row is missing), the
// model's source sets ordered by name, and its list memberships with their
// lists (Lists[i] is the list of Members[i]).
type FeatureRelations struct {
	Model      *Model
	SourceSets []*SourceSet
	Members    []*ListFeature
	Lists      []*List
}
