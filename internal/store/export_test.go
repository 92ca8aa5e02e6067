package store

// Unexported helpers the external store tests check against PostgreSQL.
var (
	VectorSearchSQL = vectorSearchSQL
	VectorIndexSQL  = vectorIndexSQL
	VectorLiteral   = vectorLiteral
	IterativeScan   = iterativeScan
)
