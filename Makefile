# toposync-streaming: see README.md.
SHELL := /bin/bash
export PATH := $(PATH):/usr/local/go/bin

VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
BIN := bin/toposync-streaming
ARGS ?=

.PHONY: run test build deps web fuzz clean

## run: install what is missing, build the UI and the binary, run the service on 127.0.0.1:8100 with the live demo
run: deps web build
	./$(BIN) serve --demo $(ARGS)

## test: install what is missing, build the UI, and run the whole test suite
test: web
	scripts/test.sh

## build: build the binary into bin/
build:
	go build -ldflags "-X main.version=$(VERSION)" -o $(BIN) ./cmd/toposync-streaming

deps:
	scripts/deps.sh ffmpeg

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

clean:
	rm -rf bin test-artifacts
