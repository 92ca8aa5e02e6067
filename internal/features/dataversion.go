package features

import "context"

// DataVersion identifies a state of everything a store holds, so that what
// was computed from it (a rendered page, an encoded feature) can be reused
// until something is written. Two equal versions guarantee that no write
// became visible between the two readings, in this process or any other.
type DataVersion struct {
	// Horizon only grows: it moves on whenever a write completes above it.
	Horizon uint64
	// Pending counts writes still in progress below Horizon; at one Horizon
	// it only falls (each completion makes a write visible).
	Pending int
}

// After reports whether v was read after o and something was written in
// between.
func (v DataVersion) After(o DataVersion) bool {
	return v.Horizon > o.Horizon || v.Horizon == o.Horizon && v.Pending < o.Pending
}

// DataVersioner is implemented by a store that can report its DataVersion
// cheaply (one small query). Read it before reading the data that a cached
// result is made of, and reuse the result only while the version is equal.
type DataVersioner interface {
	DataVersion(ctx context.Context) (DataVersion, error)
}
