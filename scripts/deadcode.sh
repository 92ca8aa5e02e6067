#!/usr/bin/env bash
# Dead code check: `deadcode ./...` (golang.org/x/tools/cmd/deadcode, a
# go.mod tool) lists the functions no main package reaches. Outside the
# test-support packages, everything it lists must be a documented entry
# point in scripts/deadcode-entrypoints.txt (an entry that has become
# reachable is reported, not failed).
set -euo pipefail
cd "$(dirname "$0")/.."

# Test-support packages: those named *test (storetest, webtest,
# transformertest...), testenv and reliability.
test_support='^saex/([^ ]*/)?[a-z0-9]*test |^saex/internal/(testenv|reliability) '
found=$(go tool deadcode -f '{{range .Funcs}}{{println $.Path .Name}}{{end}}' ./... |
  grep -Ev "$test_support" | grep -v '^$' | sort || true)
entries=$(grep -Ev '^[[:space:]]*(#|$)' scripts/deadcode-entrypoints.txt | sed 's/[[:space:]]*#.*//' | sort)
# "pkg *" documents a whole package that nothing wires in yet.
wholepkgs=$(printf '%s\n' "$entries" | awk '$2 == "*" {print $1}')
documented=$(printf '%s\n' "$entries" | awk '$2 != "*"')
covered() { # the lines of stdin that no "pkg *" entry covers
  if [ -z "$wholepkgs" ]; then cat; else grep -vE "^($(printf '%s\n' "$wholepkgs" | paste -sd'|')) " || true; fi
}
undocumented=$(comm -23 <(printf '%s\n' "$found") <(printf '%s\n' "$documented") | covered | grep -v '^$' || true)
if [ -n "$undocumented" ]; then
  printf 'deadcode: unreachable from every main package and not in scripts/deadcode-entrypoints.txt\n' >&2
  printf '(remove the code, or document there why it stays):\n%s\n' "$undocumented" >&2
  exit 1
fi
# A documented entry point that is reachable now (wired by later work) only
# needs its line dropped: say so, without failing the suite.
stale=$(comm -13 <(printf '%s\n' "$found") <(printf '%s\n' "$documented") | grep -v '^$' || true)
for pkg in $wholepkgs; do
  printf '%s\n' "$found" | grep -q "^$pkg " || stale=$(printf '%s\n%s *' "$stale" "$pkg")
done
stale=$(printf '%s\n' "$stale" | grep -v '^$' || true)
if [ -n "$stale" ]; then
  printf 'deadcode: reachable now, drop from scripts/deadcode-entrypoints.txt:\n%s\n' "$stale" >&2
fi
# Whatever is unreachable even from the tests is dead whatever the list says.
dead=$(go tool deadcode -test -f '{{range .Funcs}}{{println $.Path .Name}}{{end}}' ./... | grep -v '^$' | sort || true)
extra=$(comm -23 <(printf '%s\n' "$dead") <(printf '%s\n' "$documented") | covered | grep -v '^$' || true)
if [ -n "$extra" ]; then
  printf 'deadcode: reached by nothing, not even a test:\n%s\n' "$extra" >&2
  exit 1
fi
echo "deadcode: only documented entry points are unreachable"
