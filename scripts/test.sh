#!/usr/bin/env bash
# The whole test suite: formatting, vet, staticcheck, and every test with
# -race (fuzz targets run their checked-in seed corpus; `make fuzz` fuzzes).
# Installs what is missing first.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v go >/dev/null 2>&1 || export PATH="$PATH:/usr/local/go/bin"

# chromium: the browser tests of the web UI (e2e/ui_test.go) drive it headless.
# turbojpeg: gcc and libjpeg-turbo for the Makefile's -tags=turbojpeg build.
scripts/deps.sh ffmpeg chromium turbojpeg

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

# The Makefile builds with libjpeg-turbo (GOFLAGS=-tags=turbojpeg); a plain
# `go build` uses image/jpeg: its decode tests run once without the tag too.
step "go test (image/jpeg build)"
GOFLAGS= go vet ./internal/frame/
GOFLAGS= go tool staticcheck ./internal/frame/
GOFLAGS= go test -count=1 -run 'Decode|JPEG|FromImage' ./internal/frame/ ./internal/api/
