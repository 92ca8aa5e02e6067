#!/usr/bin/env bash
# Dead code check: `deadcode ./...` (golang.org/x/tools/cmd/deadcode, a
# go.mod tool) lists the functions no main package reaches. Outside the
# test-support packages, everything it lists must be a documented entry
# point in scripts/deadcode-entrypoints.txt, and everything documented there
# must still be listed (a stale entry fails too).
set -euo pipefail
cd "$(dirname "$0")/.."

test_support='^saex/internal/(store/storetest|web/webtest|testenv|reliability) '
found=$(go tool deadcode -f '{{range .Funcs}}{{println $.Path .Name}}{{end}}' ./... |
  grep -Ev "$test_support" | grep -v '^$' | sort || true)
documented=$(grep -Ev '^[[:space:]]*(#|$)' scripts/deadcode-entrypoints.txt | sed 's/[[:space:]]*#.*//' | sort)
if [ "$found" != "$documented" ]; then
  echo "deadcode: unreachable functions differ from scripts/deadcode-entrypoints.txt" >&2
  echo "(< listed by deadcode, not documented: remove the code or document why it stays;" >&2
  echo " > documented, no longer listed: drop the entry)" >&2
  diff <(printf '%s\n' "$found") <(printf '%s\n' "$documented") >&2 || true
  exit 1
fi
# Whatever is unreachable even from the tests is dead whatever the list says.
dead=$(go tool deadcode -test -f '{{range .Funcs}}{{println $.Path .Name}}{{end}}' ./... | grep -v '^$' | sort || true)
extra=$(comm -23 <(printf '%s\n' "$dead") <(printf '%s\n' "$documented") | grep -v '^$' || true)
if [ -n "$extra" ]; then
  printf 'deadcode: reached by nothing, not even a test:\n%s\n' "$extra" >&2
  exit 1
fi
echo "deadcode: only documented entry points are unreachable"
