// Package testenv decides what a test does when a service it needs is
// missing (a PostgreSQL server, PostgreSQL's binaries, Chromium): it fails,
// naming the service and how to provide it, unless whoever runs the tests
// opted out of that service explicitly. A plain `go test ./...` on a machine
// without PostgreSQL therefore fails loudly instead of passing a third of the
// suite in silence.
//
// The rule, the same for every service:
//   - CI=true or SAEX_REQUIRE_DB=1 (scripts/test.sh sets the latter): fail,
//     whatever else is set;
//   - the service's opt-out variable set to 1 (SAEX_SKIP_DB for PostgreSQL
//     and its binaries, SAEX_SKIP_BROWSER for Chromium): skip, saying why;
//   - otherwise: fail.
package testenv

import (
	"os"
	"path/filepath"
	"testing"
)

// Service is something tests need from the machine.
type Service struct {
	Name    string // what is missing, for the message
	Hint    string // how to provide it
	SkipVar string // the variable that opts out of the tests needing it
	// RequireVar, when set, is one more variable that forbids skipping,
	// besides CI=true and SAEX_REQUIRE_DB=1.
	RequireVar string
}

var (
	// Postgres is a reachable PostgreSQL server (storetest's TEST_DATABASE_URL).
	Postgres = Service{
		Name:    "a PostgreSQL server",
		Hint:    "start one at postgres://postgres@127.0.0.1:5432/test or point TEST_DATABASE_URL at one",
		SkipVar: "SAEX_SKIP_DB",
	}
	// PostgresBinaries are initdb and postgres, for the embedded cluster.
	PostgresBinaries = Service{
		Name:    "PostgreSQL's binaries (initdb, postgres)",
		Hint:    "apt-get install -y postgresql",
		SkipVar: "SAEX_SKIP_DB",
	}
	// Chromium is a headless browser for the page tests.
	Chromium = Service{
		Name:       "Chromium",
		Hint:       "apt-get install -y chromium",
		SkipVar:    "SAEX_SKIP_BROWSER",
		RequireVar: "SAEX_REQUIRE_BROWSER",
	}
)

// Required reports whether a missing s must fail the test: under CI=true,
// SAEX_REQUIRE_DB=1 or s's own RequireVar=1.
func (s Service) Required() bool {
	return os.Getenv("CI") == "true" || os.Getenv("SAEX_REQUIRE_DB") == "1" ||
		(s.RequireVar != "" && os.Getenv(s.RequireVar) == "1")
}

// Skipped reports whether the tests needing s are explicitly skipped: its
// opt-out variable is 1 and nothing requires it.
func (s Service) Skipped() bool {
	return !s.Required() && os.Getenv(s.SkipVar) == "1"
}

// Missing ends tb because s is unavailable (err says why): a skip when the
// tests needing s were explicitly opted out of, otherwise a failure that
// names s, how to provide it and how to opt out.
func Missing(tb testing.TB, s Service, err error) {
	tb.Helper()
	if s.Skipped() {
		tb.Skipf("%s is unavailable (%v); skipped because %s=1", s.Name, err, s.SkipVar)
	}
	why := "set " + s.SkipVar + "=1 to skip the tests that need it"
	if s.Required() {
		why = "required here (CI=true, SAEX_REQUIRE_DB=1"
		if s.RequireVar != "" {
			why += " or " + s.RequireVar + "=1"
		}
		why += ")"
	}
	tb.Fatalf("this test needs %s, which is unavailable: %v\n\t%s; %s", s.Name, err, s.Hint, why)
}

// RepoRoot returns the module root (the folder holding go.mod) above the
// working directory, where tests find the demo, testdata and docs.
func RepoRoot(tb testing.TB) string {
	tb.Helper()
	dir, err := os.Getwd()
	if err != nil {
		tb.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			tb.Fatal("testenv: no go.mod above the working directory")
		}
		dir = parent
	}
}
