# Sluice make targets. `make test` is what CI runs (.ci/run).
SHELL := /usr/bin/env bash
# Go lives in /usr/local/go on these machines; PATH may not name it.
export PATH := $(PATH):/usr/local/go/bin
GO ?= go
GOFLAGS ?= -buildvcs=false
export GOFLAGS
TEST_TIMEOUT ?= 60m

.PHONY: test deps build vet demo

# Installs missing servers and modules, then runs every test with the race
# detector. Tests start their own real servers (internal/testenv). Tests
# of a latency goal run again without the race detector, which slows what
# they measure several times, and so do the allocation counts of the
# output formats (under it sync.Pool drops items at random).
test: deps
	$(GO) test -race -timeout $(TEST_TIMEOUT) ./...
	$(GO) test -count=1 -run '^TestIncrementalSnapshot$$' ./source/mysql/ ./source/postgres/
	$(GO) test -count=1 -run 'Allocs' ./format/ ./change/

deps:
	bash scripts/deps.sh

build:
	@if [ -d cmd/sluice ]; then \
		$(GO) build -o bin/sluice ./cmd/sluice; \
	else \
		echo "make build: cmd/sluice does not exist yet" >&2; exit 1; \
	fi

vet:
	$(GO) vet ./...

# The README's first command: a throwaway MariaDB with a small workload,
# its changes streamed to the terminal until Ctrl-C.
demo: deps build
	./bin/sluice demo
