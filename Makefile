# toposync-streaming: see README.md.
SHELL := /bin/bash
export PATH := $(PATH):/usr/local/go/bin
# JPEG ingest decodes with libjpeg-turbo (internal/frame/jpeg_turbo.go); a plain
# `go build` without the tag uses image/jpeg. Every go command below inherits it.
export GOFLAGS := $(strip $(GOFLAGS) -tags=turbojpeg)
export CGO_ENABLED := 1

VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
BIN := bin/toposync-streaming
ARGS ?=

.PHONY: run test build deps cdeps web fuzz bench clean

## run: install what is missing, build the UI and the binary, run the service on 127.0.0.1:8100 with the live demo
run: deps web build
	./$(BIN) serve --demo $(ARGS)

## test: install what is missing, build the UI, and run the whole test suite
test: web
	scripts/test.sh

## build: build the binary into bin/
build: cdeps
	go build -ldflags "-X main.version=$(VERSION)" -o $(BIN) ./cmd/toposync-streaming

deps:
	scripts/deps.sh ffmpeg

# cdeps: the C compiler and libjpeg-turbo headers the turbojpeg build links
cdeps:
	scripts/deps.sh turbojpeg

## web: type-check and bundle the UI (web/) into internal/webui/dist, which the
## binary embeds; npm ci runs only when node_modules is missing or older than
## package.json / package-lock.json
web: web/node_modules/.package-lock.json
	cd web && npm run --silent check

web/node_modules/.package-lock.json: web/package.json web/package-lock.json
	scripts/deps.sh node
	cd web && npm ci --no-audit --no-fund
	touch $@

## fuzz: fuzz every Fuzz* target (FUZZTIME each, default 60s; FUZZ=regexp narrows);
## make test runs only their checked-in seed corpora
fuzz:
	scripts/fuzz.sh

## bench: the side-by-side benchmark, ours beside MediaMTX v1.20.1 (about 10 min on
## 2 cores); writes its table into BENCHMARKS.md ("make bench"). Not part of make test.
## BENCH_FLAGS=-quick is a short trial run; BENCH_FLAGS=-h lists the flags.
BENCH_FLAGS ?=
bench: deps cdeps
	go run ./bench/runtime -scenario compare -runs 2 -mediamtx-mirror $${TOPOSYNC_TEST_MEDIAMTX_MIRROR:-../shared/mediamtx-mirror} $(BENCH_FLAGS)

clean:
	rm -rf bin test-artifacts
