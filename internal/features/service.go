package features

import (
	"context"
	"strings"
	"time"
)

// CatalogService reads and writes the hierarchy above features: models,
// releases, source sets and sources.
type CatalogService interface {
	ListModels(ctx context.Context) ([]*Model, error)
	// GetModel returns ENOTFOUND when the model does not exist.
	GetModel(ctx context.Context, modelID string) (*Model, error)
	// ListSources returns the model's sources ordered by layer, then id.
	ListSources(ctx context.Context, modelID string) ([]*Source, error)
	// GetSource returns ENOTFOUND when the source does not exist.
	GetSource(ctx context.Context, modelID, sourceID string) (*Source, error)
	ListSourceSets(ctx context.Context, modelID string) ([]*SourceSet, error)
	SourceStats(ctx context.Context, modelID, sourceID string) (*SourceStats, error)

	// Upsert* create or replace one row; parents must exist (EINVALID otherwise).
	UpsertRelease(ctx context.Context, r *Release) error
	UpsertModel(ctx context.Context, m *Model) error
	UpsertSourceSet(ctx context.Context, s *SourceSet) error
	UpsertSource(ctx context.Context, s *Source) error
	// SetBuildStatus records dashboard-build progress for a source.
	SetBuildStatus(ctx context.Context, modelID, sourceID string, st *BuildStatus) error
}

// FeatureSort orders the feature browser.
type FeatureSort string

const (
	SortByIndex   FeatureSort = "index"
	SortByMaxAct  FeatureSort = "maxact"
	SortByDensity FeatureSort = "density"
)

// scoreSortPrefix starts a sort by an explanation score type.
const scoreSortPrefix = "score:"

// SortByScore orders the browser by the feature's best score of one
// scorer ("eleuther_recall", ...); features without one come last in
// either direction.
func SortByScore(scoreType string) FeatureSort { return FeatureSort(scoreSortPrefix + scoreType) }

// ScoreType returns the scorer of a sort by score, and whether it is one.
func (s FeatureSort) ScoreType() (string, bool) {
	return strings.CutPrefix(string(s), scoreSortPrefix)
}

// ScoreTypeLister is implemented by a store that can list the score types
// stored for a source's explanations (the browser offers each as a sort).
type ScoreTypeLister interface {
	SourceScoreTypes(ctx context.Context, modelID, sourceID string) ([]string, error)
}

// MatchCap bounds what a text query costs on very common words: the
// browser's filter and explanation search count and rank at most MatchCap
// candidate matches (the first found). A total of MatchCap+1 means "more
// than MatchCap"; below the cap totals and pages are exact. At 1,000 a
// common word costs ~20 ms of PostgreSQL per search at 1M features
// (docs/scaling.md); 10,000 cost ten times that.
const MatchCap = 1_000

// FeatureFilter selects a page of a source's features for the browser.
type FeatureFilter struct {
	ModelID  string
	SourceID string
	Sort     FeatureSort
	Desc     bool
	HideDead bool   // skip features with maxActApprox <= 0
	Query    string // optional: explanations (full text or substring) or a top logit token, within the source
	Offset   int
	Limit    int // 25 by default in the UI
}

// FeatureSummary is a feature-browser row: no examples, one explanation.
type FeatureSummary struct {
	Key          FeatureKey
	MaxActApprox float64
	FracNonzero  float64
	Explanation  string // best explanation, "" when none
	// TopTokens are the first few pos_str tokens, for a hint without an explanation.
	TopTokens []string
	// Score is the feature's best score of the sort's scorer when the list
	// is sorted by one (nil without a score or another sort).
	Score *float64
}

// FeatureOptions limits what GetFeature loads with a feature.
type FeatureOptions struct {
	// MaxActivations caps examples returned (0 = all), keeping the top group first.
	MaxActivations int
	// NoActivations and NoExplanations skip those relations entirely.
	NoActivations  bool
	NoExplanations bool
}

// FeatureService reads features with their examples and explanations.
type FeatureService interface {
	// GetFeature returns ENOTFOUND when the feature does not exist.
	GetFeature(ctx context.Context, key FeatureKey, opts FeatureOptions) (*Feature, error)
	// GetFeatureWithRelations is GetFeature plus the feature's model, its
	// model's source sets and its list memberships, read in one round trip
	// (GET /api/feature sends them all).
	GetFeatureWithRelations(ctx context.Context, key FeatureKey, opts FeatureOptions) (*Feature, *FeatureRelations, error)
	// GetFeatures returns the features that exist, in the order asked; missing ones are skipped.
	GetFeatures(ctx context.Context, keys []FeatureKey, opts FeatureOptions) ([]*Feature, error)
	// ListFeatures returns one page of the browser and the total number of matches.
	ListFeatures(ctx context.Context, f FeatureFilter) ([]*FeatureSummary, int, error)
	// FeatureSummaries returns max activation, density and best explanation
	// for many features of one source at once (the prompt tool ranks thousands).
	FeatureSummaries(ctx context.Context, modelID, sourceID string, indexes []int) (map[int]*FeatureSummary, error)
}

// ExplanationQuery is a search over explanations (full text or semantic).
type ExplanationQuery struct {
	Query     string
	ModelID   string   // optional filter
	SourceIDs []string // optional filter (any of)
	// ReleaseName, when set, keeps the sources of that release's source sets.
	ReleaseName string
	Offset      int
	Limit       int // 20 a page by default
}

// CheckPage refuses an empty query and a page out of bounds (limit above
// 1000, negative offset) and sets the default limit: the checks every
// ExplanationService's search starts with.
func (q *ExplanationQuery) CheckPage() error {
	if strings.TrimSpace(q.Query) == "" {
		return Errorf(EINVALID, "empty search query")
	}
	if q.Limit <= 0 {
		q.Limit = 20
	}
	if q.Limit > 1000 || q.Offset < 0 {
		return Errorf(EINVALID, "invalid offset %d or limit %d", q.Offset, q.Limit)
	}
	return nil
}

// ExplanationHit is one search result.
type ExplanationHit struct {
	Explanation *Explanation
	Rank        float64 // the score hits are ordered by
	// CosineSimilarity is the query's similarity to the explanation under
	// semantic ranking; nil under full-text ranking.
	CosineSimilarity *float64
}

// ExplanationService searches and adds explanations.
type ExplanationService interface {
	SearchExplanations(ctx context.Context, q ExplanationQuery) ([]*ExplanationHit, int, error)
	// CreateExplanation stores a new explanation of an existing feature
	// (ENOTFOUND if the feature is missing) and fills in ID and CreatedAt.
	CreateExplanation(ctx context.Context, e *Explanation) error
	// SearchRanking says how SearchExplanations orders its hits.
	SearchRanking() SearchRanking
}

// FeatureBatch is a unit of bulk writing: features of one source with their
// examples and explanations, written all-or-nothing. Import, dashboard build
// and the upload API all write through it.
type FeatureBatch struct {
	ModelID  string
	SourceID string
	Features []*Feature // each feature's Activations and Explanations are written with it
	// ReplaceExamples drops the features' existing examples and explanations
	// first, so a rerun of the same batch converges to the same rows.
	ReplaceExamples bool
	// Checkpoint, when set, is recorded in the same transaction (resumable jobs).
	Checkpoint *Checkpoint
}

// Checkpoint records that one unit of a resumable job (an import file, a
// build chunk) is fully written.
type Checkpoint struct {
	Job  string // e.g. "import:gemma-2-2b/20-gemmascope-res-131k" or "build:demo-gpt2-4l/1-res-topk"
	Unit string // e.g. "features/batch-79.jsonl.gz" or "chunk-0003"
	Hash string // content hash of the unit, so a changed file is reimported
}

// FeatureWriter bulk-loads features.
type FeatureWriter interface {
	WriteFeatures(ctx context.Context, b *FeatureBatch) error
	// WriteActivations appends examples to existing features (ENOTFOUND if one is missing).
	WriteActivations(ctx context.Context, acts []*Activation) error
	// WriteExplanations upserts explanations by ID (ENOTFOUND if a feature is missing).
	WriteExplanations(ctx context.Context, exps []*Explanation, cp *Checkpoint) error
	// Done reports whether a checkpoint with this job, unit and hash exists.
	Done(ctx context.Context, cp Checkpoint) (bool, error)
}

// RankRefresher is a FeatureWriter that keeps per-source browse ranks
// (store's rank marks), which every write to a source makes stale. Bulk
// writers (import, dashboard builds) call it once their last write to a
// source is done, so that the first deep browser pages after them do not
// fall back to an OFFSET skip while a refresh runs.
type RankRefresher interface {
	RefreshRankMarks(ctx context.Context, modelID, sourceID string) error
}

// APIKey is a credential for write endpoints (Neuronpedia's x-api-key).
type APIKey struct {
	ID        string
	Name      string
	Prefix    string // first characters of the key, shown in listings
	Scope     string // ScopeRead, ScopeUpload or ScopeAdmin
	CreatedAt time.Time
	RevokedAt *time.Time
}

// SessionService keeps browsers' login sessions: opaque tokens stored
// hashed, expiring, and ended when their key is revoked.
type SessionService interface {
	// CreateSession returns a new session token for the key, shown once.
	CreateSession(ctx context.Context, keyID string, ttl time.Duration) (token string, err error)
	// SessionKey returns the key a live session logs in as; EUNAUTHORIZED
	// for an unknown, expired or revoked one.
	SessionKey(ctx context.Context, token string) (*APIKey, error)
	// DeleteSession ends a session (logout); an unknown token is no error.
	DeleteSession(ctx context.Context, token string) error
}

// SourceOwners tells who owns a source: the upload key that created it, or
// "" for the admin (the demo, imports, builds).
type SourceOwners interface {
	SourceOwner(ctx context.Context, modelID, sourceID string) (keyID string, err error)
}

// APIKeyService creates, lists, revokes and checks API keys. Keys are stored hashed.
type APIKeyService interface {
	// CreateAPIKey returns the new key's secret, shown once.
	CreateAPIKey(ctx context.Context, name string) (secret string, key *APIKey, err error)
	ListAPIKeys(ctx context.Context) ([]*APIKey, error)
	RevokeAPIKey(ctx context.Context, idOrPrefix string) error
	// Authenticate returns EUNAUTHORIZED for an unknown or revoked secret.
	Authenticate(ctx context.Context, secret string) (*APIKey, error)
}

// Pinger reports whether the backing database is reachable and migrated.
type Pinger interface {
	Ready(ctx context.Context) error
}
