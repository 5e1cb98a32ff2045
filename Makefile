# DAGGER — build, test and measure. `make help` lists the targets.
GO          ?= go
STATICCHECK ?= $(GO) run honnef.co/go/tools/cmd/staticcheck@v0.6.1
FUZZTIME    ?= 30s
BENCHTIME   ?= 1s
CHECKS      ?= 2000
FUZZ_TARGETS = $(shell grep -ho '^func Fuzz[A-Za-z0-9_]*' graph/*_test.go | sed 's/func //')

.PHONY: help build demo test race bench fuzz soak lint clean

help:
	@echo "make demo    run a few nodes' graphs in one process until they commit"
	@echo "make test    run every test (unit, property, fuzz seeds)"
	@echo "make race    the tests under the race detector"
	@echo "make bench   the benchmarks (BENCHTIME=$(BENCHTIME))"
	@echo "make fuzz    each fuzz target for FUZZTIME=$(FUZZTIME)"
	@echo "make soak    the property tests with CHECKS=$(CHECKS) generated executions each"
	@echo "make lint    gofmt, go vet, staticcheck"
	@echo "make build   build bin/dagger"

build:
	$(GO) build -o bin/dagger ./cmd/dagger

demo:
	$(GO) run ./cmd/dagger demo

test:
	$(GO) test ./...

race:
	$(GO) test -race ./...

bench:
	$(GO) test -run '^$$' -bench . -benchmem -benchtime $(BENCHTIME) ./...

fuzz:
	@for t in $(FUZZ_TARGETS); do \
		echo "== $$t"; \
		$(GO) test ./graph -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 2000x || exit 1; \
	done

soak:
	$(GO) test ./graph -run '^Test(Determinism|Agreement|Validity|Evidence)_' -rapid.checks=$(CHECKS) -timeout 2h -v

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(STATICCHECK) ./...

clean:
	rm -rf bin
