package templates

import "saex/internal/features"

// HomeView is the home page: every model with its sources.
type HomeView struct {
	Meta
	// Builds are the sources whose dashboards are being built.
	Builds []BuildBannerView
	Models []ModelView
	// Single is true on a model's own page (/{model}).
	Single bool
}

// ModelView is one model with its sources.
type ModelView struct {
	Model     *features.Model
	Sources   []SourceSummary
	CanPrompt bool
}

// SourceSummary is a source row of the home page.
type SourceSummary struct {
	Source *features.Source
	Stats  *features.SourceStats
	// Build is a short state line ("done", "running 120/4096 features"), "" when unknown.
	Build string
}

// SourceView is the feature browser of one source.
type SourceView struct {
	Meta
	Source *features.Source
	// Build, when set, says the source's dashboards are being built.
	Build *BuildBannerView
	Rows  []SourceRow
	Total int
	// More: there are more than Total matches (a capped text filter).
	More     bool
	Page     int
	Pages    int
	Sort     string
	Desc     bool
	HideDead bool
	Query    string
	PrevURL  string
	NextURL  string
	// SortLinks are the column headers' links (index, maxact, density).
	SortLinks map[string]string
	// JumpError explains a jump-to index that was not accepted.
	JumpError string
	// FirstURL and LastURL are the first and last pages ("" on them);
	// PageLinks the numbered pages around the current one.
	FirstURL, LastURL string
	PageLinks         []PageLink
	// DensityHist is the whole source's density histogram (nil when unknown).
	DensityHist *Histogram
	// DeadCount is the number of features that never fired.
	DeadCount int
	// ScoreSorts are the sorts by a scorer that the source's explanations
	// have; ScoreLabel heads the score column while sorting by one.
	ScoreSorts []SortOption
	ScoreLabel string
	// AutoInterp is the auto-interp panel.
	AutoInterp *AutoInterpView
}

// SortOption is one choice of the browser's sort menu.
type SortOption struct {
	Value, Label string
}

// AutoInterpView is the source page's auto-interp panel: the latest job's
// progress and, for a user who may write the source, the form that starts
// one; without an LLM endpoint, what to configure.
type AutoInterpView struct {
	// StateURL is the panel's own URL (htmx polls it while a job runs);
	// StartURL the form's action.
	StateURL, StartURL string
	// Setup, when set, says which settings the server needs (names only).
	Setup string
	// CanStart shows the form; Hint says why it is not shown.
	CanStart bool
	Hint     string
	// Scorers are the form's scorer choices.
	Scorers     []ScorerChoice
	NumFeatures int
	Job         *AutoInterpJobView
}

// ScorerChoice is one scorer checkbox of the job form.
type ScorerChoice struct {
	Value, Label string
	Checked      bool
}

// AutoInterpJobView is an auto-interp job's progress or summary.
type AutoInterpJobView struct {
	Running  bool
	Headline string
	// Value of Max features are done; Figure says it in words.
	Value, Max int
	Figure     string
	// Facts are the summary's lines ("explained: 120", "tokens used: ...").
	Facts      []JobFact
	Failed     []JobFailureView
	FailedMore int
	Error      string
}

// JobFact is one labelled number of a job's summary.
type JobFact struct {
	Label, Value string
}

// JobFailureView is a feature a job could not explain or score.
type JobFailureView struct {
	Index  int
	URL    string
	Reason string
}

// PageLink is one numbered page of a pager; Gap marks an elision (…).
type PageLink struct {
	Num     int
	URL     string
	Current bool
	Gap     bool
}

// SourceRow is one feature of the browser.
type SourceRow struct {
	Index       int
	URL         string
	MaxAct      string
	Density     string
	Explanation string
	TopTokens   string
	Dead        bool
	// Score is the row's score when sorting by a scorer ("–" without one).
	Score string
}

// FeatureView is the feature dashboard.
type FeatureView struct {
	Meta
	// Build, when set, says the source's dashboards are being built.
	Build      *BuildBannerView
	F          *features.Feature
	Density    string
	ActHist    *Histogram
	LogitHist  *Histogram
	Neg        []LogitRow
	Pos        []LogitRow
	Acts       ActivationsView
	Neighbours []Neighbour
	PrevURL    string
	NextURL    string
	JSONURL    string
	SourceURL  string
	TestURL    string
	CanTest    bool
	// SteerURL opens the steer page with this feature (when CanTest).
	SteerURL string
	TestText string
	Test     *TestView
}

// LogitRow is one token of the logit tables.
type LogitRow struct {
	Token string
	Value string
}

// ActivationsView is the examples section of a feature page, in the short
// view (a window around each example's max) or the full contexts.
type ActivationsView struct {
	Groups []ActGroup
	Full   bool
	// ToggleURL is the page in the other view (works without JS);
	// ToggleFragment the section alone in the other view (htmx).
	ToggleURL      string
	ToggleFragment string
}

// ActGroup is a section of examples: the top activations or one interval.
type ActGroup struct {
	Title string
	Rows  []ActRow
	// Interval marks a quantile group (rows drawn at random from it).
	Interval bool
}

// ActRow is one example text.
type ActRow struct {
	Tokens []TokenView
	// MaxValue is the value of the row's qualifying (bold) token.
	MaxValue string
	// Note, when the context holds a larger value elsewhere, says both.
	Note string
	// CutLeft and CutRight mark a context cut to its window.
	CutLeft, CutRight bool
}

// Neighbour is a decoder-cosine neighbour.
type Neighbour struct {
	Index       int
	URL         string
	Cos         string
	Explanation string
}

// TestView is the result of running a test text through one feature.
type TestView struct {
	Tokens   []TokenView
	MaxValue string
	MaxToken string
	Error    string
}

// PromptView is the prompt tool.
type PromptView struct {
	Meta
	ModelID    string
	Sources    []SourceChoice
	Text       string
	Rank       string // "max" or "sum"
	NumResults int
	// Density is the density filter's box: a percentage, "0" for none.
	Density   string
	MaxTokens int
	Result    *PromptResultView
	Error     string
	Available bool
}

// SourceChoice is a source checkbox of the prompt tool.
type SourceChoice struct {
	ID      string
	Checked bool
}

// PromptResultView is a prompt's tokens and ranked features.
type PromptResultView struct {
	Tokens   []PromptToken
	Features []PromptFeature
	// ShareURL is the GET URL that runs this prompt with these settings.
	ShareURL string
	RankNote string
	Millis   string
}

// PromptToken is one token of the prompt; Selected tokens are summed when ranking by sum.
type PromptToken struct {
	Pos int
	// Len is how many tokens the view shows (more than one for the pieces
	// of a character split across tokens).
	Len      int
	Text     string
	Selected bool
	Special  bool
	Class    string
}

// PromptFeature is one ranked feature of the prompt tool.
type PromptFeature struct {
	SourceID    string
	Index       int
	URL         string
	Score       string
	MaxValue    string
	MaxToken    string
	Explanation string
	Spark       Sparkline
	// Highlight is "level:value" per token view, for static/prompt.js.
	Highlight string
}

// TokenPanelView lists the top features at one token.
type TokenPanelView struct {
	Pos     int
	Token   string
	Sources []TokenPanelSource
	Error   string
}

// TokenPanelSource is one source's top features at a token.
type TokenPanelSource struct {
	SourceID string
	Features []TokenPanelFeature
}

// TokenPanelFeature is one feature at a token.
type TokenPanelFeature struct {
	Index       int
	URL         string
	Value       string
	Explanation string
}

// SearchView is the explanation search page.
type SearchView struct {
	Meta
	Query    string
	ModelID  string
	SourceID string
	Models   []string
	Hits     []SearchHit
	Total    int
	// More: there are more than Total matches (a capped search).
	More     bool
	Searched bool
	PrevURL  string
	NextURL  string
	Error    string
	// Semantic is true when hits are ranked by the cosine similarity of
	// embeddings (an embeddings endpoint is configured), false for full text.
	Semantic bool
}

// SearchHit is one explanation found.
type SearchHit struct {
	ModelID     string
	SourceID    string
	Index       int
	URL         string
	Description string
	TypeName    string
	ExplModel   string
	Similarity  string // cosine similarity to the query, "" under full-text ranking
}

// ErrorView is an error page.
type ErrorView struct {
	Meta
	Status  int
	Message string
	// BackURL, when set, is where to carry on (BackText names it).
	BackURL, BackText string
	// Build, when set, says the feature's source is being built.
	Build *BuildBannerView
}

// BuildBannerView is the state of a source whose dashboards are not all
// built yet.
type BuildBannerView struct {
	SourceID string
	// URL is the banner's own fragment URL, polled while the build runs.
	URL      string
	Polling  bool
	Headline string // "Dashboards of 1-res-topk are being built."
	Step     string // the step that runs
	// Value of Max is the progress of the step (Max 0: no figure).
	Value, Max int
	Figure     string // "1,234 / 5,000 contexts (25%)"
}

// SteerView is the steer page: a prompt completed with and without
// steering by SAE features, side by side (static/steer.js runs it through
// POST /api/steer and streams both completions in).
type SteerView struct {
	Meta
	ModelID string
	// Sources are the model's runnable sources, for the "source:index" box.
	Sources  []string
	Prompt   string
	Features []SteerFeatureView
	// Settings, as the form's boxes show them.
	NTokens, Temperature, Seed, FreqPenalty, Multiplier string
	Method                                              string // SIMPLE_ADDITIVE or ORTHOGONAL_DECOMP
	MaxTokens                                           int
	// AutoRun asks static/steer.js to run the form on load (a shared URL with run=1).
	AutoRun   bool
	Error     string
	Available bool
}

// SteerFeatureView is one feature to steer with and its strength.
type SteerFeatureView struct {
	SourceID string
	Index    int
	Strength string
	URL      string
}
