package store

import "context"

var ctx0 = context.Background()

// Unexported helpers the external store tests check against PostgreSQL.
var (
	VectorSearchSQL = vectorSearchSQL
	VectorIndexSQL  = vectorIndexSQL
	VectorLiteral   = vectorLiteral
	IterativeScan   = iterativeScan
)

// SetRankMarks sets the stride between a DB's rank marks and turns its
// background refresh off; RefreshRanks refreshes a source's marks now.
func SetRankMarks(db *DB, stride int) { db.rankStride, db.rankManual = stride, true }

func RefreshRanks(db *DB, sid int32) error { return db.refreshRanks(ctx0, sid) }

// SetMatchCap lowers the cap of text filters and explanation search.
func SetMatchCap(db *DB, n int) { db.matchCap = n }
