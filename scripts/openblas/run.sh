#!/bin/sh
# Builds and runs the OpenBLAS reference benchmark (bench.c).
#
#   scripts/openblas/run.sh THREADS ITERS [gpt2|gemma [T...]]
#
# Needs libopenblas-dev (apt-get install -y libopenblas-dev). The environment
# here exports OPENBLAS_CORETYPE=Haswell and OPENBLAS_L2_SIZE=512, which force
# OpenBLAS's AVX2 kernels and halve its SGEMM; they are removed for this
# command only, so OpenBLAS picks its native (AVX-512) kernels.
# SAEX_HUGEPAGES=1 puts the matrices on transparent huge pages, as saex's
# packed weights are (see bench.c).
set -eu
if [ $# -lt 2 ]; then
	echo "usage: $0 THREADS ITERS [gpt2|gemma [T...]]" >&2
	exit 2
fi
threads=$1
shift
dir=$(cd "$(dirname "$0")" && pwd)
bin=${TMPDIR:-/tmp}/saex-openblas-bench
cc -O2 -Wall -o "$bin" "$dir/bench.c" -lopenblas
exec env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OPENBLAS_NUM_THREADS="$threads" "$bin" "$@"
