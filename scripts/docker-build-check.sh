#!/usr/bin/env bash
# No Docker engine runs here, so CI checks the Dockerfile the other way round:
# it runs the Dockerfile's own `go build` line (same flags, same env), checks
# that the binary starts, and that every path it COPYs from the build context
# exists (cmd/server/dockerfile_test.go checks the same and more in go test).
set -euo pipefail
cd "$(dirname "$0")/.."
build=$(grep -E '^RUN .*go build' Dockerfile | head -1 | sed -e 's/^RUN //' -e 's#-o /out/saex#-o "$out/saex"#')
[ -n "$build" ] || { echo "docker-build-check: no go build line in Dockerfile" >&2; exit 1; }
case "$build" in *'"$out/saex"'*) ;; *) echo "docker-build-check: the build line does not write /out/saex" >&2; exit 1 ;; esac
out=$(mktemp -d); trap 'rm -rf "$out"' EXIT
echo "+ $build"
eval "$build"
"$out/saex" help >/dev/null
"$out/saex" help | grep -q '^  serve ' || { echo "docker-build-check: the binary has no serve command" >&2; exit 1; }
grep -E '^(COPY|ADD) ' Dockerfile | grep -v -- '--from=' | while read -r _ args; do
  set -- $args
  # Skip flags (--chown=..., --chmod=...); the last word is the destination.
  while [ $# -gt 0 ] && [ "${1#--}" != "$1" ]; do shift; done
  while [ $# -gt 1 ]; do
    compgen -G "$1" >/dev/null || { echo "docker-build-check: Dockerfile copies missing path $1" >&2; exit 1; }
    shift
  done
done
echo "docker-build-check: ok"
