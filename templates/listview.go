package templates

// ListView is a list's page: its members and a test text run across them.
type ListView struct {
	Meta
	ID          string
	Name        string
	Description string
	TestURL     string
	JSONNote    string // how to read the list through the API
	TestText    string
	Members     []ListMember
	// Test is the test text's result, for a page rendered after a plain
	// (non-htmx) form post.
	Test *ListTestView
}

// ListMember is one feature of a list.
type ListMember struct {
	Key         string // model@source:index
	URL         string
	Description string // why it is in the list
	Explanation string // its best explanation
}

// ListTestView is a test text run across a list's features.
type ListTestView struct {
	Error string
	Rows  []ListTestRow
}

// ListTestRow is one member's activations on the test text.
type ListTestRow struct {
	Key      string
	URL      string
	MaxValue string
	Tokens   []TokenView
	Error    string // this member could not run (no inference for its model)
}
