# tether: make demo (try it), make test (every test), make bench / make chaos (figures).
GO      ?= go
PKGS    ?= ./...
BIN     := bin/tether

.PHONY: all build deps test test-short vet lint demo sim bench chaos clean fmt

all: build

build:
	$(GO) build -o $(BIN) ./cmd/tether

deps:
	@bash scripts/ensure-deps.sh

vet:
	$(GO) vet $(PKGS)
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

# Every test: unit tests, integration tests on a throwaway PostgreSQL, and the
# jsforce conformance test against the simulator. Kept under 10 minutes on 2 cores.
test: deps vet
	$(GO) test -count=1 -timeout 15m -p 2 $(PKGS)

# The main job on embedded defaults: a throwaway PostgreSQL plus the simulator.
demo: deps build
	./$(BIN) demo

sim: build
	./$(BIN) sim

# Benchmarks: print throughput, records per request, latency percentiles, memory.
bench: deps
	$(GO) test -run '^$$' -bench . -benchtime 1x -timeout 60m $(PKGS)

# Long crash and fault runs.
chaos: deps
	TETHER_CHAOS=1 $(GO) test -count=1 -timeout 60m -run 'Chaos|Crash' $(PKGS)

fmt:
	gofmt -w $$(git ls-files '*.go')

clean:
	rm -rf bin
