#!/usr/bin/env bash
# No Docker engine runs here, so CI checks the Dockerfile the other way round:
# it runs the Dockerfile's own `go build` line (same flags, same env) and
# checks that every path it COPYs from the build context exists.
set -euo pipefail
cd "$(dirname "$0")/.."
build=$(grep -E '^RUN .*go build' Dockerfile | head -1 | sed -e 's/^RUN //' -e 's#-o /out/saex#-o "$out/saex"#')
[ -n "$build" ] || { echo "docker-build-check: no go build line in Dockerfile" >&2; exit 1; }
out=$(mktemp -d); trap 'rm -rf "$out"' EXIT
echo "+ $build"
eval "$build"
"$out/saex" help >/dev/null
grep -E '^COPY ' Dockerfile | grep -v -- '--from=' | while read -r _ args; do
  set -- $args
  while [ $# -gt 1 ]; do
    [ -e "$1" ] || { echo "docker-build-check: Dockerfile copies missing path $1" >&2; exit 1; }
    shift
  done
done
echo "docker-build-check: ok"
