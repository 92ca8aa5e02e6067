package testenv

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
)

// outcome runs Missing in a fake testing.TB and reports whether it skipped
// or failed, and the message.
func outcome(t *testing.T, env map[string]string, s Service) (skipped, failed bool, msg string) {
	t.Helper()
	for _, k := range []string{"CI", "SAEX_REQUIRE_DB", "SAEX_REQUIRE_BROWSER", "SAEX_SKIP_DB", "SAEX_SKIP_BROWSER"} {
		t.Setenv(k, env[k])
	}
	rec := &recorder{}
	done := make(chan struct{})
	go func() { // Skipf and Fatalf end the goroutine they run on
		defer close(done)
		Missing(rec, s, errors.New("connection refused"))
	}()
	<-done
	return rec.skipped, rec.failed, rec.msg
}

type recorder struct {
	testing.TB
	skipped, failed bool
	msg             string
}

func (r *recorder) Helper() {}
func (r *recorder) Skipf(format string, args ...any) {
	r.skipped, r.msg = true, fmt.Sprintf(format, args...)
	runtime.Goexit()
}
func (r *recorder) Fatalf(format string, args ...any) {
	r.failed, r.msg = true, fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func TestMissingFailsUnlessOptedOut(t *testing.T) {
	cases := []struct {
		name string
		env  map[string]string
		s    Service
		skip bool
	}{
		{"nothing set fails", nil, Postgres, false},
		{"opt-out skips", map[string]string{"SAEX_SKIP_DB": "1"}, Postgres, true},
		{"CI overrides the opt-out", map[string]string{"SAEX_SKIP_DB": "1", "CI": "true"}, Postgres, false},
		{"SAEX_REQUIRE_DB overrides the opt-out", map[string]string{"SAEX_SKIP_DB": "1", "SAEX_REQUIRE_DB": "1"}, Postgres, false},
		{"binaries share the db opt-out", map[string]string{"SAEX_SKIP_DB": "1"}, PostgresBinaries, true},
		{"browser has its own opt-out", map[string]string{"SAEX_SKIP_DB": "1"}, Chromium, false},
		{"browser opt-out skips", map[string]string{"SAEX_SKIP_BROWSER": "1"}, Chromium, true},
		{"SAEX_REQUIRE_DB requires the browser", map[string]string{"SAEX_SKIP_BROWSER": "1", "SAEX_REQUIRE_DB": "1"}, Chromium, false},
		{"SAEX_REQUIRE_BROWSER requires it", map[string]string{"SAEX_SKIP_BROWSER": "1", "SAEX_REQUIRE_BROWSER": "1"}, Chromium, false},
		{"CI other than true does not require", map[string]string{"SAEX_SKIP_DB": "1", "CI": "1"}, Postgres, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			skipped, failed, msg := outcome(t, c.env, c.s)
			if skipped != c.skip || failed == c.skip {
				t.Fatalf("skipped=%v failed=%v, want skip=%v (%s)", skipped, failed, c.skip, msg)
			}
			if !strings.Contains(msg, c.s.Name) || !strings.Contains(msg, "connection refused") {
				t.Errorf("message %q does not name the service and the error", msg)
			}
			if !c.skip && !strings.Contains(msg, c.s.Hint) {
				t.Errorf("failure %q does not say how to provide the service", msg)
			}
			if len(c.env) == 0 && !strings.Contains(msg, c.s.SkipVar+"=1") {
				t.Errorf("failure %q does not name the opt-out", msg)
			}
		})
	}
}
