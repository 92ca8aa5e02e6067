package store

import (
	"math"
	"strings"
	"time"
	"unicode/utf8"

	"saex/internal/features"
)

func orNow(t, now time.Time) time.Time {
	if t.IsZero() {
		return now
	}
	return t.UTC().Truncate(time.Microsecond)
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// nilIfEmpty makes empty arrays read back as nil, so "[]" and a missing
// field are the same value everywhere (the file readers do the same).
func nilIfEmpty[T any](s []T) []T {
	if len(s) == 0 {
		return nil
	}
	return s
}

// checkText rejects strings Postgres text cannot hold (NUL, broken UTF-8)
// with EINVALID instead of a 500 from the database.
func checkText(what string, ss ...string) error {
	for _, s := range ss {
		if strings.IndexByte(s, 0) >= 0 {
			return features.Errorf(features.EINVALID, "%s: text %q contains a NUL character", what, truncate(s, 40))
		}
		if !utf8.ValidString(s) {
			return features.Errorf(features.EINVALID, "%s: text %q is not valid UTF-8", what, truncate(s, 40))
		}
	}
	return nil
}

func checkTextPtr(what string, ps ...*string) error {
	for _, p := range ps {
		if p != nil {
			if err := checkText(what, *p); err != nil {
				return err
			}
		}
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// fitsInt4 returns EINVALID naming what and field when an input-derived
// integer does not fit the integer column it goes to: pgx would refuse it
// with an internal error, and an int32() conversion would wrap it silently.
func fitsInt4(what, field string, vals ...*int) error {
	for _, v := range vals {
		if v != nil && (*v < math.MinInt32 || *v > math.MaxInt32) {
			return features.Errorf(features.EINVALID, "%s: %s %d is out of range (at most %d)", what, field, *v, math.MaxInt32)
		}
	}
	return nil
}
