#!/usr/bin/env bash
# The 1M-feature scale proof of docs/scaling.md ("1M features"), in one
# command: generate (once) a synthetic wide-SAE export of 1,048,576
# features, import it with `saex import` into a fresh database, print table
# and index sizes, then load serve's handler (response cache off) with 16
# connections: feature pages, GET /api/feature, the source browser (random
# pages of every sort) and explanation search. It runs TestScaleProof
# (cmd/server/scale_bench_test.go).
#
#   scripts/bench-1m.sh                       # everything, about 1 h on 2 vCPUs
#   FEATURES=65536 scripts/bench-1m.sh        # smaller
#   SKIP_IMPORT=1 KEEP_DB=1 scripts/bench-1m.sh   # serve again what the last run kept
#
# Environment: FEATURES (1048576), EXPORT (/tmp/saex-synth-1m; reused when
# present, ~3 GB), PGURL (postgres://postgres@127.0.0.1:5432, a server where
# the user may create databases), DB (saex_scale1m), DURATION (20s per load
# scenario), CONNS (16), WORKERS (import --workers, 2), KEEP_DB (keep the
# database afterwards), SKIP_IMPORT (serve an existing DB; implies KEEP_DB),
# ONLY (comma-separated substrings of the load scenarios to run).
set -euo pipefail
cd "$(dirname "$0")/.."

FEATURES="${FEATURES:-1048576}"
EXPORT="${EXPORT:-/tmp/saex-synth-1m}"
PGURL="${PGURL:-postgres://postgres@127.0.0.1:5432}"
DB="${DB:-saex_scale1m}"
SKIP_IMPORT="${SKIP_IMPORT:-}"
KEEP_DB="${KEEP_DB:-$SKIP_IMPORT}"
[[ "$DB" =~ ^[a-z_][a-z0-9_]*$ ]] || { echo "bench-1m.sh: DB must be a plain lower-case name" >&2; exit 2; }
command -v psql >/dev/null || { echo "bench-1m.sh: psql is needed to create the database" >&2; exit 1; }

if [ -z "$SKIP_IMPORT" ]; then
  psql -q "$PGURL/postgres" -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB"
fi
if [ -z "$KEEP_DB" ]; then
  trap 'psql -q "$PGURL/postgres" -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)"' EXIT
fi
echo "commit $(git rev-parse --short HEAD)$(git diff --quiet || echo ' (modified)'), $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
SAEX_SCALE_FEATURES="$FEATURES" SAEX_SCALE_EXPORT="$EXPORT" SAEX_SCALE_DB="$PGURL/$DB" \
SAEX_SCALE_DURATION="${DURATION:-20s}" SAEX_SCALE_CONNS="${CONNS:-16}" SAEX_SCALE_WORKERS="${WORKERS:-2}" \
SAEX_SCALE_SKIP_IMPORT="$SKIP_IMPORT" SAEX_SCALE_ONLY="${ONLY:-}" \
  go test ./cmd/server -run '^TestScaleProof$' -count=1 -v -timeout 4h
