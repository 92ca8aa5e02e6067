#!/usr/bin/env bash
# The import floor of docs/scaling.md ("The import floor"): what importing a
# Neuronpedia export costs at the least on this machine, whoever writes the
# importer. Two parts:
#   1. saex's side without PostgreSQL: reading, sha256, inflating and decoding
#      every file of the export on one core (go run ./scripts/import-floor).
#   2. PostgreSQL's side without saex: the rows an import of that export
#      wrote, dumped in COPY's binary format, loaded again by one backend
#      (its own CPU from /proc/self/stat) into (a) the real tables, with their
#      indexes and triggers, pglz and lz4 TOAST compression, and (b) bare
#      copies of the tables without indexes or triggers, lz4.
#
#   scripts/import-floor.sh EXPORT DB
#
# DB must hold exactly an import of EXPORT (saex migrate + saex import); it
# is read, not changed (the loads go to a scratch copy, dropped at the end).
# Needs psql, a superuser (pg_read_file) and PostgreSQL on Linux.
set -euo pipefail
cd "$(dirname "$0")/.."
EXPORT=${1:?usage: scripts/import-floor.sh EXPORT DB}
DB=${2:?usage: scripts/import-floor.sh EXPORT DB}
PGURL=${PGURL:-postgres://postgres@127.0.0.1:5432}
[[ "$DB" =~ ^[a-z_][a-z0-9_]*$ ]] || { echo "import-floor.sh: DB must be a plain lower-case name" >&2; exit 2; }
SCRATCH=${DB}_floor
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"; psql -q "$PGURL/postgres" -c "DROP DATABASE IF EXISTS $SCRATCH WITH (FORCE)" >/dev/null 2>&1 || true' EXIT

echo "commit $(git rev-parse --short HEAD), $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== saex's side, one core"
go run ./scripts/import-floor -from "$EXPORT"

TABLES=(features activations explanations)
for t in "${TABLES[@]}"; do
	psql -q "$PGURL/$DB" -c "\\copy $t TO '$TMP/$t.bin' (FORMAT binary)"
done
n=$(psql -Atq "$PGURL/$DB" -c "SELECT count(*) FROM features")
echo "== PostgreSQL's side, one backend: $n features, $(du -cm "$TMP"/*.bin | tail -1 | cut -f1) MB of binary COPY data"
psql -q "$PGURL/postgres" -c "DROP DATABASE IF EXISTS $SCRATCH WITH (FORCE)" -c "CREATE DATABASE $SCRATCH TEMPLATE $DB" 2>&1 | grep -v NOTICE || true

# load LABEL SETUP_SQL TABLE_PREFIX: one transaction of three COPYs, each
# timed by the backend's own CPU clock (utime + stime of /proc/self/stat).
load() {
	local label=$1 setup=$2 prefix=$3
	local ticks="(split_part(pg_read_file('/proc/self/stat'),' ',14)::bigint + split_part(pg_read_file('/proc/self/stat'),' ',15)::bigint)"
	psql -q "$PGURL/$SCRATCH" -c "TRUNCATE features, activations, explanations CASCADE" >/dev/null 2>&1
	{
		echo "$setup"
		echo "SELECT extract(epoch FROM clock_timestamp()) AS w0 \\gset"
		echo "SELECT $ticks AS t0 \\gset"
		echo "BEGIN;"
		for t in "${TABLES[@]}"; do
			echo "SELECT $ticks AS a \\gset"
			echo "\\copy $prefix$t FROM '$TMP/$t.bin' (FORMAT binary)"
			echo "SELECT $ticks AS b \\gset"
			echo "SELECT rpad('  $t', 46) || lpad(round((:b - :a) / 100.0, 2)::text, 7) || ' CPU-s ' || round((:b - :a) * 10.0 / $n, 4) || ' ms/feature';"
		done
		echo "COMMIT;"
		echo "SELECT $ticks AS t1 \\gset"
		echo "SELECT rpad('$label', 46) || lpad(round((:t1 - :t0) / 100.0, 2)::text, 7) || ' CPU-s ' || round((:t1 - :t0) * 10.0 / $n, 4) || ' ms/feature, ' || round((extract(epoch FROM clock_timestamp()) - :w0)::numeric, 1) || ' s wall';"
	} | psql -Atq -v ON_ERROR_STOP=1 "$PGURL/$SCRATCH"
}
load "real tables, indexes + triggers, pglz" "SET default_toast_compression = pglz;" ""
load "real tables, indexes + triggers, lz4" "SET default_toast_compression = lz4;" ""
bare="SET client_min_messages = warning; SET default_toast_compression = lz4;"
for t in "${TABLES[@]}"; do
	bare+=" DROP TABLE IF EXISTS bare_$t; CREATE TABLE bare_$t (LIKE $t INCLUDING DEFAULTS INCLUDING GENERATED);"
done
load "bare tables (no index, trigger, key), lz4" "$bare" "bare_"
