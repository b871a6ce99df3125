#!/usr/bin/env bash
# The whole test suite: formatting, vet, staticcheck, every test with -race,
# and a short run of each fuzz target. Installs what is missing first.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v go >/dev/null 2>&1 || export PATH="$PATH:/usr/local/go/bin"

scripts/deps.sh ffmpeg

step() { printf '\n== %s\n' "$*"; }

step "gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './web/node_modules/*'))
if [ -n "$unformatted" ]; then
  echo "gofmt would change these files (run gofmt -w):"
  echo "$unformatted"
  exit 1
fi

step "go vet"
go vet ./...

step "staticcheck"
go tool staticcheck ./...

step "go test -race"
go test -race -count=1 -timeout 12m ./...

step "fuzz (${FUZZTIME:=5s} per target)"
go test -run '^$' -fuzz '^FuzzSlug$' -fuzztime "$FUZZTIME" ./internal/model
go test -run '^$' -fuzz '^FuzzDecodeTransmission$' -fuzztime "$FUZZTIME" ./internal/model
go test -run '^$' -fuzz '^FuzzDecodeSettings$' -fuzztime "$FUZZTIME" ./internal/model
