#!/usr/bin/env bash
# A/B of `saex import` (docs/scaling.md, "1M features" -> "Import"): each
# binary given imports EXPORT into a fresh migrated database, the binaries
# alternated ROUNDS times (old, new, old, new, ...) so that both see the same
# background load. Per run it prints wall time, features/s, saex CPU
# (/usr/bin/time: user + sys; also its peak RSS), the CPU of the database's own PostgreSQL
# backends (each backend's /proc/<pid>/stat read every 100 ms, its last
# reading kept: a lower bound, as a backend's last 100 ms before it exits are
# missed) and the load average before and after.
#
#   scripts/bench-import.sh /tmp/saex-old /tmp/saex-new
#
# Environment: EXPORT (/tmp/synth-64k), PGURL (postgres://postgres@127.0.0.1:5432),
# WORKERS (2), ROUNDS (2), DB (saex_benchimport; dropped afterwards), PREP_SQL
# (run after the migration: for experiments such as dropping an index).
# The database server must run on this machine (its backends are read from /proc).
set -euo pipefail

EXPORT="${EXPORT:-/tmp/synth-64k}"
PGURL="${PGURL:-postgres://postgres@127.0.0.1:5432}"
WORKERS="${WORKERS:-2}"
ROUNDS="${ROUNDS:-2}"
DB="${DB:-saex_benchimport}"
[[ "$DB" =~ ^[a-z_][a-z0-9_]*$ ]] || { echo "bench-import.sh: DB must be a plain lower-case name" >&2; exit 2; }
[ $# -ge 1 ] || { echo "usage: bench-import.sh BINARY [BINARY...]" >&2; exit 2; }
TICK=$(getconf CLK_TCK)
trap 'psql -q "$PGURL/postgres" -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true' EXIT

# backend_cpu DB FILE: until FILE.stop exists, sum the CPU ticks of DB's
# backends (the last reading of each pid) into FILE.
backend_cpu() {
  local db=$1 out=$2
  declare -A last=()
  local n=0 pid
  while [ ! -e "$out.stop" ]; do
    if (( n % 10 == 0 )); then # new backends: the pool opens connections as it needs them
      for pid in $(pgrep -f "^postgres: .*: [a-z]+ $db " || true); do
        [ -n "${last[$pid]:-}" ] || last[$pid]=0
      done
    fi
    for pid in "${!last[@]}"; do
      local f
      if read -r -a f 2>/dev/null <"/proc/$pid/stat"; then
        last[$pid]=$(( f[13] + f[14] ))
      fi
    done
    n=$((n + 1))
    sleep 0.1
  done
  local sum=0
  for pid in "${!last[@]}"; do sum=$(( sum + last[$pid] )); done
  echo "$sum" >"$out"
}

features=$(for f in "$EXPORT"/*/*/features/*.jsonl.gz; do zcat "$f"; done | wc -l)
echo "export $EXPORT: $features features; $(nproc) CPUs; workers $WORKERS"
printf '%-28s %8s %10s %9s %9s %11s %8s %s\n' binary wall feat/s saex_cpu pg_cpu cpu/feature max_rss "load before -> after"
tmp=$(mktemp -d)
for round in $(seq "$ROUNDS"); do
  for bin in "$@"; do
    psql -q "$PGURL/postgres" -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB" >/dev/null
    "$bin" migrate --database-url "$PGURL/$DB" >/dev/null 2>&1
    [ -z "${PREP_SQL:-}" ] || psql -q "$PGURL/$DB" -c "$PREP_SQL" >/dev/null
    load0=$(cut -d' ' -f1 /proc/loadavg)
    rm -f "$tmp/pg" "$tmp/pg.stop"
    backend_cpu "$DB" "$tmp/pg" &
    sampler=$!
    /usr/bin/time -f '%e %U %S %M' -o "$tmp/time" "$bin" import --workers "$WORKERS" --from "$EXPORT" \
      --database-url "$PGURL/$DB" >"$tmp/log" 2>&1 || { cat "$tmp/log" >&2; exit 1; }
    touch "$tmp/pg.stop"
    wait "$sampler"
    load1=$(cut -d' ' -f1 /proc/loadavg)
    read -r wall user sys rss <"$tmp/time"
    pg=$(awk -v t="$(cat "$tmp/pg")" -v hz="$TICK" 'BEGIN { printf "%.1f", t / hz }')
    awk -v b="$bin" -v w="$wall" -v u="$user" -v s="$sys" -v pg="$pg" -v n="$features" -v l0="$load0" -v l1="$load1" -v rss="$rss" 'BEGIN {
      printf "%-28s %7.1fs %10.0f %8.1fs %8.1fs %9.3fms %6.0fMB %s -> %s\n", b, w, n / w, u + s, pg, (u + s + pg) * 1000 / n, rss / 1024, l0, l1 }'
    grep -o 'phase=[a-z]* .*rows_per_s=[0-9]*' "$tmp/log" | sed 's/^/    /' || true
  done
done
rm -rf "$tmp"
