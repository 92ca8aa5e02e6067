#!/usr/bin/env bash
# The whole test suite: the README's test command, and what CI runs (.ci/run).
# It installs what is missing when it can (root + apt-get) and fails, never
# skips, when something the tests need is unavailable.
set -euo pipefail
cd "$(dirname "$0")/.."

export CI="${CI:-}"
step() { printf '\n== %s\n' "$*"; }
die() { printf 'test.sh: %s\n' "$*" >&2; exit 1; }

apt_install() {
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    step "installing $*"
    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
  else
    die "missing $*: install it (apt-get install $*) and rerun"
  fi
}

step "tools"
command -v go >/dev/null || die "go is not installed (Go 1.26 is required)"
command -v chromium >/dev/null || apt_install chromium
command -v docker-compose >/dev/null || apt_install docker-compose
# Neuronpedia's Python client runs against saex in internal/web (testdata/neuronpedia-client).
python3 -c 'import requests, dotenv' 2>/dev/null || apt_install python3 python3-requests python3-dotenv
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null || command -v pg_config >/dev/null || apt_install postgresql

# The store and web tests need a PostgreSQL server; TEST_DATABASE_URL overrides the default.
export TEST_DATABASE_URL="${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test?sslmode=disable}"
if command -v pg_isready >/dev/null && ! pg_isready -q -d "$TEST_DATABASE_URL"; then
  if command -v pg_ctlcluster >/dev/null && [ "$(id -u)" = 0 ]; then
    step "starting the local PostgreSQL cluster"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start || true
  fi
  pg_isready -q -d "$TEST_DATABASE_URL" || die "PostgreSQL is not reachable at $TEST_DATABASE_URL"
fi
# Every test needing a service (PostgreSQL, its binaries, Chromium) fails
# instead of skipping from here on, whatever SAEX_SKIP_DB or
# SAEX_SKIP_BROWSER say (internal/testenv).
export SAEX_REQUIRE_DB=1

step "format, generated code, vet, staticcheck"
unformatted=$(gofmt -l $(git ls-files '*.go'))
[ -z "$unformatted" ] || die "gofmt would change: $unformatted"
go tool templ generate >/dev/null
git diff --exit-code --stat -- '*_templ.go' || die "templ generated code is stale: run 'go tool templ generate' and commit"
go vet ./...
go tool staticcheck ./...
# The kernel's assembly is generated: regenerate it and fail on any difference.
(cd internal/compute/kernel && go run gen_amd64.go)
git diff --exit-code --stat -- internal/compute/kernel/kernel_amd64.s ||
  die "internal/compute/kernel/kernel_amd64.s differs from what gen_amd64.go writes: run 'go generate ./internal/compute/kernel' and commit"

step "dead code"
scripts/deadcode.sh

step "unit and integration tests"
go test -count=1 -timeout 30m ./...

step "compute tests on the portable pure-Go kernel"
go test -count=1 -tags purego ./internal/compute/...

step "fuzz targets, bounded"
# A short minimisation time: by default each new input is minimised for up
# to a minute, which would eat the whole bounded run of a target.
# Go 1.26's fuzz coordinator can report its own -fuzztime deadline as a
# failure ("context deadline exceeded", no failing input written; golang/go
# issue 75804, fixed in Go 1.27). Only that exact outcome is run again, up to
# twice; a real failure always writes its input and fails at once.
fuzz_target() {
  local pkg=$1 name=$2 attempt out rc
  for attempt in 1 2 3; do
    rc=0
    out=$(go test -run '^$' -fuzz "^${name}\$" -fuzztime "${FUZZTIME:-10s}" \
      -fuzzminimizetime "${FUZZMINIMIZETIME:-1s}" "$pkg" 2>&1) || rc=$?
    printf '%s\n' "$out" | grep -v '^fuzz: elapsed' || true
    if [ "$rc" -eq 0 ]; then return 0; fi
    if printf '%s\n' "$out" | grep -q 'Failing input written' ||
      ! printf '%s\n' "$out" | grep -q '^    context deadline exceeded$'; then
      return "$rc"
    fi
    echo "fuzz: $name hit the coordinator's deadline race (golang/go#75804), attempt $attempt; running it again"
  done
  return 1
}
for target in $(scripts/fuzz-targets.sh); do
  fuzz_target "${target%%:*}" "${target##*:}"
done

step "deployment files"
docker-compose -f docker-compose.yml config -q
scripts/docker-build-check.sh

step "all tests passed"
