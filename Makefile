# toposync-streaming: see README.md.
SHELL := /bin/bash
export PATH := $(PATH):/usr/local/go/bin

VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
BIN := bin/toposync-streaming
ARGS ?=

.PHONY: run test build deps fuzz clean

## run: install what is missing, build, run the service on 127.0.0.1:8100 with the live demo
run: deps build
	./$(BIN) serve --demo $(ARGS)

## test: install what is missing and run the whole test suite
test:
	scripts/test.sh

## build: build the binary into bin/
build:
	go build -ldflags "-X main.version=$(VERSION)" -o $(BIN) ./cmd/toposync-streaming

deps:
	scripts/deps.sh ffmpeg

## fuzz: fuzz each target (FUZZTIME each, default 60s); make test runs only their seeds
fuzz:
	FUZZTIME=$${FUZZTIME:-60s} bash -c 'for f in FuzzSlug FuzzDecodeTransmission FuzzDecodeSettings; do go test -run "^$$" -fuzz "^$$f$$" -fuzztime "$$FUZZTIME" ./internal/model || exit 1; done'

clean:
	rm -rf bin
