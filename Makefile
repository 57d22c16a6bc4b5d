# tether: make demo (try it), make test (every test), make bench / make chaos (figures).
GO      ?= go
PKGS    ?= ./...
BIN     := bin/tether
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)

.PHONY: all build deps test vet lint demo sim bench chaos clean fmt

all: build

build:
	$(GO) build -ldflags "-X main.version=$(VERSION)" -o $(BIN) ./cmd/tether

deps:
	@bash scripts/ensure-deps.sh

STATICCHECK_VERSION := v0.8.2

# go vet, gofmt and staticcheck (installed into bin/ at a pinned version).
lint: vet

vet:
	$(GO) vet $(PKGS)
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	@if [ ! -x bin/staticcheck ]; then \
	  GOBIN=$(CURDIR)/bin $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) \
	  || echo "warning: staticcheck could not be installed; skipped"; fi
	@if [ -x bin/staticcheck ]; then echo "staticcheck $(PKGS)"; bin/staticcheck $(PKGS); fi

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

# The full-size runs: 100,000-record backfill, 1,000,000-row transaction,
# repeated crash rounds, 10,000+10,000 convergence, a million simulator records.
chaos: deps
	TETHER_CHAOS=1 TETHER_SIM_MILLION=1 $(GO) test -count=1 -p 1 -timeout 80m -v $(PKGS)

fmt:
	gofmt -w $$(git ls-files '*.go')

clean:
	rm -rf bin
