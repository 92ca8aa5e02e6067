#!/bin/sh
# Interleaved, same-run comparison of saex's kernel with OpenBLAS, gonum and
# the pure-Go fallback on the SAE encoder shapes (docs/performance.md).
#
#   scripts/openblas/compare.sh [ROUNDS] [OUT]     (from the repository root)
#
# Each round runs, back to back: the Go benchmarks (every kernel
# implementation, T in 1 8 128 512, and the streaming read of W), gonum and
# purego (T <= 128, fewer iterations: they are 10-30x slower), OpenBLAS on
# 1 and then 2 threads. Noise on this shared 2-vCPU VM hits every method of a
# round alike, so summarize.go reports per-round ratios and their medians
# and the cpu-util of each row (≈ threads when they really ran in parallel).
set -eu
rounds=${1:-3}
out=${2:-/tmp/saex-kernel-compare.txt}
iters=${ITERS:-10}
slow_iters=${SLOW_ITERS:-2}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
bin=${TMPDIR:-/tmp}/saex-kernel.test
(cd "$root" && go test -c -o "$bin" ./internal/compute/kernel)
: >"$out"
for r in $(seq "$rounds"); do
	echo "# round $r $(date -u +%FT%TZ) load: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$out"
	"$bin" -test.run '^$' -test.bench 'EncodeGEMM///(avx512|avx2)/|StreamRead' -test.benchtime "${iters}x" >>"$out"
	"$bin" -test.run '^$' -test.bench 'EncodeGEMM//T=(1|8|128)$/(purego|gonum)' -test.benchtime "${slow_iters}x" >>"$out"
	"$here/run.sh" 1 "$iters" >>"$out"
	"$here/run.sh" 2 "$iters" >>"$out"
done
(cd "$root" && go run scripts/openblas/summarize.go "$out")
