// Package npexport reads and writes the two file formats saex imports:
// Neuronpedia's public export layout ({model}/{source}/*.jsonl and
// features|activations|explanations/batch-N.jsonl.gz, one database row a
// line with Neuronpedia's column names) and SAEDashboard's batch-N.json.
// It knows nothing of the database: it turns files into features types and
// back. Empty arrays and missing arrays read the same (nil), so values
// compare equal across a round trip.
package npexport

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"

	"saex/internal/features"
)

// TimeLayout is how Neuronpedia writes timestamps: UTC, microseconds, no zone.
const TimeLayout = "2006-01-02T15:04:05.000000"

// npTime reads Neuronpedia's zone-less timestamps (taken as UTC) as well as
// RFC 3339, and writes TimeLayout.
type npTime struct{ time.Time }

func (t *npTime) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		t.Time = time.Time{}
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("timestamp must be a string, got %s", truncate(string(b), 40))
	}
	v, err := parseNPTime(s)
	if err != nil {
		return err
	}
	t.Time = v
	return nil
}

var npTimeLayouts = []string{TimeLayout, "2006-01-02T15:04:05.999999999", time.RFC3339Nano, "2006-01-02 15:04:05.999999999", "2006-01-02 15:04:05.999999999Z07:00"}

func parseNPTime(s string) (time.Time, error) {
	for _, layout := range npTimeLayouts {
		if v, err := time.Parse(layout, s); err == nil {
			return v.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("invalid timestamp %q", s)
}

func (t npTime) MarshalJSON() ([]byte, error) {
	if t.IsZero() {
		return []byte("null"), nil
	}
	return []byte(`"` + t.UTC().Format(TimeLayout) + `"`), nil
}

// flexIndex reads a feature index written as a string ("14057", as
// Neuronpedia does) or as a number.
type flexIndex int

func (x *flexIndex) UnmarshalJSON(b []byte) error {
	s := string(b)
	if strings.HasPrefix(s, `"`) {
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
	}
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n < 0 || n > 1<<31-1 {
		return fmt.Errorf("invalid feature index %s", truncate(string(b), 40))
	}
	*x = flexIndex(n)
	return nil
}

// flexString reads a string or a number as a string (SAEDashboard writes
// "layer" either way).
type flexString string

func (x *flexString) UnmarshalJSON(b []byte) error {
	if bytes.HasPrefix(b, []byte(`"`)) {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*x = flexString(s)
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("want a string or a number, got %s", truncate(string(b), 40))
	}
	*x = flexString(n.String())
	return nil
}

// The row types embed the domain types and shadow the fields whose JSON
// differs (encoding/json prefers the shallower field).

type featureRow struct {
	features.Feature
	Index     flexIndex `json:"index"`
	CreatedAt npTime    `json:"createdAt"`
}

type activationRow struct {
	features.Activation
	Index     flexIndex `json:"index"`
	CreatedAt npTime    `json:"createdAt"`
	// zIndices/zValues (newer exports) are accepted and not kept.
}

type scoreRow struct {
	features.ExplanationScore
	CreatedAt npTime `json:"createdAt"`
}

type explanationRow struct {
	features.Explanation
	Index     flexIndex   `json:"index"`
	CreatedAt npTime      `json:"createdAt"`
	Scores    []*scoreRow `json:"scores,omitempty"`
}

type modelRow struct {
	features.Model
	CreatedAt npTime `json:"createdAt"`
	UpdatedAt npTime `json:"updatedAt"`
}

type releaseRow struct {
	features.Release
	CreatedAt npTime `json:"createdAt"`
}

type sourceSetRow struct {
	features.SourceSet
	CreatedAt npTime `json:"createdAt"`
}

type sourceRow struct {
	features.Source
	CreatedAt npTime `json:"createdAt"`
	// Build status is saex-internal and not exported.
	Build *features.BuildStatus `json:"build,omitempty"`
}

func (r *featureRow) domain() *features.Feature {
	f := r.Feature
	f.Index, f.CreatedAt = int(r.Index), r.CreatedAt.Time
	f.Activations, f.Explanations = nil, nil
	nilEmpty(&f)
	return &f
}

func (r *activationRow) domain() *features.Activation {
	a := r.Activation
	a.Index, a.CreatedAt = int(r.Index), r.CreatedAt.Time
	nilEmpty(&a)
	return &a
}

func (r *explanationRow) domain() *features.Explanation {
	e := r.Explanation
	e.Index, e.CreatedAt = int(r.Index), r.CreatedAt.Time
	e.Scores = nil
	for _, s := range r.Scores {
		if s == nil {
			continue
		}
		sc := s.ExplanationScore
		sc.CreatedAt = s.CreatedAt.Time
		if sc.ExplanationID == "" {
			sc.ExplanationID = e.ID
		}
		e.Scores = append(e.Scores, &sc)
	}
	nilEmpty(&e)
	return &e
}

func featureToRow(f *features.Feature) *featureRow {
	r := &featureRow{Feature: *f, Index: flexIndex(f.Index), CreatedAt: npTime{f.CreatedAt}}
	r.Feature.Activations, r.Feature.Explanations = nil, nil
	// Token pieces as Neuronpedia writes them (U+FFFD for a split character).
	r.Feature.PosStr, r.Feature.NegStr = features.TokenTexts(f.PosStr), features.TokenTexts(f.NegStr)
	emptyNil(&r.Feature)
	return r
}

// MarshalJSON writes the index as a string, as Neuronpedia does.
func (x flexIndex) MarshalJSON() ([]byte, error) {
	return []byte(`"` + strconv.Itoa(int(x)) + `"`), nil
}

func activationToRow(a *features.Activation) *activationRow {
	r := &activationRow{Activation: *a, Index: flexIndex(a.Index), CreatedAt: npTime{a.CreatedAt}}
	r.Activation.Tokens = features.TokenTexts(a.Tokens)
	emptyNil(&r.Activation)
	return r
}

func explanationToRow(e *features.Explanation) *explanationRow {
	r := &explanationRow{Explanation: *e, Index: flexIndex(e.Index), CreatedAt: npTime{e.CreatedAt}}
	r.Explanation.Scores = nil
	for _, s := range e.Scores {
		r.Scores = append(r.Scores, &scoreRow{ExplanationScore: *s, CreatedAt: npTime{s.CreatedAt}})
	}
	return r
}

var rawMessageType = reflect.TypeOf(json.RawMessage(nil))

// nilEmpty sets the struct's empty slices to nil; a json.RawMessage
// holding null becomes nil too.
func nilEmpty(ptr any) {
	v := reflect.ValueOf(ptr).Elem()
	for i := 0; i < v.NumField(); i++ {
		f := v.Field(i)
		if f.Kind() != reflect.Slice || !f.CanSet() {
			continue
		}
		if f.Len() == 0 || (f.Type() == rawMessageType && string(f.Bytes()) == "null") {
			f.Set(reflect.Zero(f.Type()))
		}
	}
}

// emptyNil sets nil slices to empty ones, so they are written as [] like
// Neuronpedia's non-null array columns.
func emptyNil(ptr any) {
	v := reflect.ValueOf(ptr).Elem()
	for i := 0; i < v.NumField(); i++ {
		f := v.Field(i)
		if f.Kind() == reflect.Slice && f.IsNil() && f.CanSet() && f.Type() != rawMessageType && f.Type().Elem().Kind() != reflect.Pointer {
			f.Set(reflect.MakeSlice(f.Type(), 0, 0))
		}
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
