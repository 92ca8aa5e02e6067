#!/usr/bin/env bash
# Compares a single-process dashboard build of the demo with the same build
# run as River jobs by 2 `saex worker` processes (--concurrency 1, one
# thread each: GOMAXPROCS=1), REPEATS times each, alternating, and prints
# wall and CPU seconds, then the per-shard and per-merge costs of the last
# distributed run. docs/scaling.md ("Distributed builds") shows its output.
#
#   scripts/bench-distributed-build.sh [CONTEXTS] [REPEATS]
#
# Needs PostgreSQL at $PGURL (default postgres://postgres@127.0.0.1:5432)
# with the right to create databases, and GNU time.
set -euo pipefail
cd "$(dirname "$0")/.."
CONTEXTS=${1:-1024}
REPEATS=${2:-3}
PGURL=${PGURL:-postgres://postgres@127.0.0.1:5432}
DEMO=demo/demo-gpt2-4l
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
go build -o "$TMP/saex" ./cmd/server
ARGS=(--model $DEMO/model --sae $DEMO/saes/blocks.1.hook_resid_pre --sae $DEMO/saes/blocks.2.hook_resid_pre
	--sae $DEMO/saes/blocks.3.hook_resid_pre --corpus $DEMO/corpus/eval.jsonl.gz --contexts "$CONTEXTS")

fresh_db() {
	local name=bench_dist_$1
	psql -q "$PGURL/postgres" -c "DROP DATABASE IF EXISTS $name" -c "CREATE DATABASE $name"
	echo "$PGURL/$name"
}

# cpu FILE: user+system seconds from GNU time's "%U %S" line(s), summed.
cpu() { awk '{s += $1 + $2} END {printf "%.2f", s}' "$@"; }

echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-8s %-6s %8s %8s\n' run repeat wall_s cpu_s
for r in $(seq 1 "$REPEATS"); do
	url=$(fresh_db single)
	/usr/bin/time -f '%e %U %S' -o "$TMP/single.time" \
		"$TMP/saex" build --database-url "$url" --work-dir "$TMP/w-single" "${ARGS[@]}" >"$TMP/single.log" 2>&1
	read -r wall u s <"$TMP/single.time"
	printf '%-8s %-6s %8.2f %8.2f\n' single "$r" "$wall" "$(echo "$u $s" | cpu /dev/stdin)"

	url=$(fresh_db dist)
	"$TMP/saex" migrate --database-url "$url" >/dev/null 2>&1
	pids=()
	for w in 1 2; do
		GOMAXPROCS=1 /usr/bin/time -f '%U %S' -o "$TMP/worker$w.time" \
			"$TMP/saex" worker --database-url "$url" --data-dir "$TMP/w$w" --concurrency 1 --id "w$w" >"$TMP/worker$w.log" 2>&1 &
		pids+=($!)
	done
	start=$(date +%s.%N)
	/usr/bin/time -f '%U %S' -o "$TMP/enqueue.time" \
		"$TMP/saex" build --enqueue --wait --database-url "$url" --work-dir "$TMP/w-enq" "${ARGS[@]}" >"$TMP/enqueue.log" 2>&1
	end=$(date +%s.%N)
	# The workers' CPU is read when they exit; they are idle by now. Signal
	# each worker itself (the child of its time process): time would die
	# of a SIGTERM without reporting.
	for p in "${pids[@]}"; do kill -TERM "$(pgrep -P "$p")"; done
	wait "${pids[@]}" || true
	printf '%-8s %-6s %8.2f %8.2f\n' 2workers "$r" "$(echo "$end - $start" | bc)" "$(cpu "$TMP/enqueue.time" "$TMP/worker1.time" "$TMP/worker2.time")"
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"

echo
echo "per shard (last distributed run):"
psql -q "$url" -c "SELECT count(*) AS shards, round(avg(n_contexts)) AS contexts, round(avg(tokens)) AS tokens,
	round(avg(model_ms)) AS model_ms_avg, max(model_ms) AS model_ms_max, round(avg(codes_bytes)) AS codes_bytes_avg,
	round(sum(codes_bytes) / sum(tokens)::numeric, 1) AS codes_bytes_per_token FROM dashboard_build_shards"
echo "per merge (one per source):"
psql -q "$url" -c "SELECT source_id, worker, fetch_ms, total_ms, codes_bytes FROM dashboard_build_merges ORDER BY source_id"
grep -h "merge done" "$TMP"/worker*.log | sed 's/^.*msg="merge done"//'
