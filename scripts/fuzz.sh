#!/usr/bin/env bash
# Fuzzes every Fuzz* target in the module for FUZZTIME each (default 60s).
# `make test` runs only their checked-in seed corpora (testdata/fuzz/...).
# FUZZ narrows it to targets whose name matches a regular expression.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v go >/dev/null 2>&1 || export PATH="$PATH:/usr/local/go/bin"
fuzztime="${FUZZTIME:-60s}"
only="${FUZZ:-.}"
found=0
for pkg in $(go list ./...); do
  for target in $(go test -list '^Fuzz' "$pkg" | grep '^Fuzz' | grep -E "$only" || true); do
    found=$((found + 1))
    printf '\n== %s %s (%s)\n' "$pkg" "$target" "$fuzztime"
    go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" "$pkg"
  done
done
if [ "$found" -eq 0 ]; then
  echo "no fuzz target matches FUZZ=$only" >&2
  exit 1
fi
echo "fuzzed $found targets for $fuzztime each"
