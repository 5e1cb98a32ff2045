# DAGGER — build, test and measure. `make help` lists the targets.
GO          ?= go
STATICCHECK ?= $(GO) run honnef.co/go/tools/cmd/staticcheck@v0.6.1
FUZZTIME    ?= 30s
BENCHTIME   ?= 1s
CHECKS      ?= 2000
# package:FuzzTarget for every fuzz target in the tree
FUZZ_TARGETS = $(shell grep -o '^func Fuzz[A-Za-z0-9_]*' $$(git ls-files '*_test.go') | sed 's|/[^/]*_test.go:func |:|')

FUZZ_SIM_TIME ?= 10m

.PHONY: help build demo test e2e race bench bench-results bench-sim bench-live bench-live-signed bench-compare bench-soak fuzz fuzz-sim soak scenarios lint clean

help:
	@echo "make demo    run the quick-start scenario in the simulator and print its summary"
	@echo "make test    run every test (unit, property, fuzz seeds, a selection of scenarios)"
	@echo "make scenarios  run every scenario in scenarios/ and scenarios/regressions/ with its default seed"
	@echo "make fuzz-sim   a generated simulation campaign for FUZZ_SIM_TIME=$(FUZZ_SIM_TIME), and an injected bug found and shrunk"
	@echo "make e2e     the end-to-end tests: real node processes (VM test: DAGGER_LIBVIRT_TEST=1, see .ci/libvirtd.sh)"
	@echo "make race    the tests under the race detector"
	@echo "make bench   the benchmarks (BENCHTIME=$(BENCHTIME))"
	@echo "make bench-results  the throughput and latency sweeps whose results docs/bench/ holds (bench-sim, bench-live-signed, bench-compare; about 25 minutes)"
	@echo "make bench-soak  4 live nodes at BENCH_SOAK_RATE=$(BENCH_SOAK_RATE) tx/s for BENCH_SOAK_DURATION=$(BENCH_SOAK_DURATION): memory and snapshot size over time, in docs/bench/soak"
	@echo "make fuzz    each fuzz target for FUZZTIME=$(FUZZTIME)"
	@echo "make soak    the property tests with CHECKS=$(CHECKS) generated executions each"
	@echo "make lint    gofmt, go vet, staticcheck"
	@echo "make build   build bin/dagger"

build:
	$(GO) build -o bin/dagger ./cmd/dagger

demo:
	$(GO) run ./cmd/dagger sim run scenarios/quickstart.yaml

scenarios: build
	@fail=0; for f in scenarios/*.yaml scenarios/regressions/*.yaml; do \
		./bin/dagger sim run $$f > bin/last-run.txt 2>&1; code=$$?; \
		printf '%-40s %s\n' "$$f" "$$(head -n 1 bin/last-run.txt | sed 's/.*simulated in/wall/') exit $$code"; \
		if [ $$code != 0 ]; then cat bin/last-run.txt; fail=1; fi; \
	done; exit $$fail

test:
	$(GO) test ./...

e2e:
	DAGGER_E2E=1 $(GO) test ./node/live/e2e -count=1 -v -timeout 30m

race:
	$(GO) test -race ./...

bench:
	$(GO) test -run '^$$' -bench . -benchmem -benchtime $(BENCHTIME) ./...

# The sweeps whose results docs/bench/ holds; each point of the live ones
# starts fresh node processes (about 75 s a point).
BENCH_LIVE_RATES   ?= 10000,30000,50000,60000,70000,80000,90000,100000
BENCH_SIGNED_RATES ?= 6000,10000,15000,20000
BENCH_COMET_RATES  ?= 2000,3000,4500,6000
BENCH_DURATION     ?= 60s
# the signed sweep measures a target over a steady window of 60 s: the load window less its 10 s warm-up
BENCH_SIGNED_DURATION ?= 70s

# bench-compare sweeps DAGGER's opaque payloads beside CometBFT, so the
# results take its DAGGER points rather than sweep them twice.
bench-results: bench-sim bench-live-signed bench-compare
	./bin/dagger bench report --nodes 4 --out docs/bench docs/bench/compare/results.jsonl docs/bench/live-signed/results.jsonl docs/bench/sim/results.jsonl > /dev/null

bench-sim: build
	./bin/dagger bench sim --nodes 4,10,40 --rates 1000,10000,40000 --delta 100ms --duration 15s --out docs/bench/sim

bench-live: build bench-live-signed
	./bin/dagger bench live --nodes 4 --rates $(BENCH_LIVE_RATES) --duration $(BENCH_DURATION) --tx-size 256 --payload opaque --out docs/bench/live

bench-live-signed: build
	./bin/dagger bench live --nodes 4 --rates $(BENCH_SIGNED_RATES) --duration $(BENCH_SIGNED_DURATION) --payload signed --out docs/bench/live-signed

bench-compare: build
	./bin/dagger bench compare cometbft --nodes 4 --rates $(BENCH_LIVE_RATES) --cometbft-rates $(BENCH_COMET_RATES) --duration $(BENCH_DURATION) --tx-size 256 --out docs/bench/compare

# A long run at half the rate 4 nodes sustain (bench-live): whether
# their memory and snapshots stay flat (docs/bench/soak/memory.csv,
# run-memory.png, run-snapshot.png; rss_start_mib and rss_end_mib in
# results.jsonl). An hour needs about 8 GB of disk for the nodes' stores.
# The nodes serve Go's profiles meanwhile (node i at 127.0.0.1:8700+i,
# /debug/pprof/), to find what grows.
BENCH_SOAK_RATE     ?= 40000
BENCH_SOAK_DURATION ?= 1h

bench-soak: build
	./bin/dagger bench live --nodes 4 --rates $(BENCH_SOAK_RATE) --duration $(BENCH_SOAK_DURATION) --tx-size 256 --payload opaque --pprof --out docs/bench/soak

fuzz:
	@for t in $(FUZZ_TARGETS); do \
		echo "== $$t"; \
		$(GO) test ./$${t%%:*} -run '^$$' -fuzz "^$${t##*:}$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 2000x || exit 1; \
	done

fuzz-sim: build
	./bin/dagger sim fuzz --time $(FUZZ_SIM_TIME) --out bin/fuzz-sim --require-coverage
	$(GO) test -tags daggerbug ./sim/swarm -run TestInjectedBugIsFoundAndShrunk -count=1 -v -timeout 30m

soak:
	$(GO) test ./graph -run '^Test(Determinism|Agreement|Validity|Evidence)_' -rapid.checks=$(CHECKS) -timeout 2h -v

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(STATICCHECK) ./...

clean:
	rm -rf bin
