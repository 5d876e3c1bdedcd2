# meshops: the two commands a fresh machine needs are `make demo` and `make test`.

GO        ?= go
DEV_DIR   ?= .dev
REVISIONS ?= asm-1-28 asm-1-29
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
# Per-package test timeout; the first package to start an API server pays
# for loading the CRDs.
TEST_TIMEOUT ?= 20m

DEVCLUSTER = $(GO) run ./hack/devcluster

# POD_START_DELAY models container start time on kwok's fake node.
POD_START_DELAY ?= 1s
# SIMULATED=1 starts only etcd and kube-apiserver with the simulated mesh.
SIMULATED ?=
# MESH=aks installs REVISIONS through an ARM emulator of the AKS Istio
# add-on (test/armemu, docs/aks-emulator.md) and writes $(DEV_DIR)/azure.env.
MESH ?=

.PHONY: all build test test-e2e fuzz-smoke bench fmt-check vet tools cluster-up cluster-down demo clean

all: build

# CGO_ENABLED=0, as the image builds it: a static binary. With cgo, the
# plugin package (kustomize's loader, under fluxcd/pkg/ssa) makes the
# linker export every symbol, and each meshops process maps 29 MB more.
build:
	CGO_ENABLED=0 $(GO) build -ldflags "-X main.version=$(VERSION)" -o bin/meshops ./cmd/meshops

## tools: build the control-plane binaries from the Go module proxy into
## the cache (${MESHOPS_CACHE_DIR:-~/.cache/meshops}); cached builds are reused.
tools:
	$(DEVCLUSTER) tools

fmt-check:
	@out="$$(gofmt -l $$($(GO) list -f '{{.Dir}}' ./...) hack/tools)"; \
	if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

## test: formatter check, go vet, then every test against the real API server,
## then a short fuzz of the config loader (fuzz-smoke).
test: fmt-check vet tools
	KUBEBUILDER_ASSETS="$$($(DEVCLUSTER) assets)" $(GO) test -count=1 -timeout $(TEST_TIMEOUT) ./...
	@$(MAKE) --no-print-directory fuzz-smoke

## fuzz-smoke: FuzzLoad (the whole config loader: meshops.yaml, values and
## manifests together) for FUZZ_TIME under a memory cap: ulimit -v for the
## processes, GOMEMLIMIT for the Go heap, and the target's own check of the
## live heap after each load. The first run compiles the package with
## coverage instrumentation (minutes on two cores; cached after). Then
## FuzzQuickParse for QUICK_FUZZ_TIME: the loader's own reader of plain
## YAML must read every document it accepts exactly as yaml.v3 does.
FUZZ_TIME ?= 30s
QUICK_FUZZ_TIME ?= 15s
fuzz-smoke:
	ulimit -v 4194304 && GOMEMLIMIT=1GiB $(GO) test ./configs -run '^$$' -fuzz '^FuzzLoad$$' \
		-fuzztime $(FUZZ_TIME) -fuzzminimizetime 50x -parallel 2
	ulimit -v 4194304 && GOMEMLIMIT=1GiB $(GO) test ./configs -run '^$$' -fuzz '^FuzzQuickParse$$' \
		-fuzztime $(QUICK_FUZZ_TIME) -fuzzminimizetime 50x -parallel 2

## test-e2e: only the tests against the full local control plane.
test-e2e: tools
	$(GO) test -count=1 -timeout $(TEST_TIMEOUT) ./test/e2e/...

## bench: the fleet-scale benchmarks on the full local control plane, side
## by side with ARO-Tools' strategy and the kubectl script; prints one table
## with each target's verdict (docs/benchmarks.md).
## About 17 minutes on two cores; progress on stderr. Not part of make test.
## The raw output, the table and a CPU and allocation profile per row land
## in $(BENCH_DIR).
BENCH_DIR ?= .bench
bench: tools
	@rm -rf $(BENCH_DIR) && mkdir -p $(BENCH_DIR)/profiles
	@echo "bench: git fetch benchmarks (sync/gitsource)" >&2
	@$(GO) test -run '^$$' -bench 'BenchmarkFetch' -benchtime 20x -benchmem ./sync/gitsource > $(BENCH_DIR)/gitsource.txt 2>&1 \
		|| { tail -20 $(BENCH_DIR)/gitsource.txt; exit 1; }
	@$(GO) test -c -o $(BENCH_DIR)/bench.test ./test/bench
	@CGO_ENABLED=0 $(GO) build -o $(BENCH_DIR)/meshops ./cmd/meshops
	@$(BENCH_DIR)/bench.test -test.run '^$$' -test.bench . -test.benchtime 1x -test.timeout 30m \
		-git-bench $(BENCH_DIR)/gitsource.txt -profiles $(BENCH_DIR)/profiles -table $(BENCH_DIR)/table.md \
		-meshops $(BENCH_DIR)/meshops \
		> $(BENCH_DIR)/bench.txt || { tail -40 $(BENCH_DIR)/bench.txt; exit 1; }
	@echo; cat $(BENCH_DIR)/table.md

## cluster-up: start the local control plane in the background (etcd,
## kube-apiserver, controller-manager, scheduler, kwok, a real istiod per
## revision, the ingress gateway); kubeconfig in $(DEV_DIR)/kubeconfig.
## MESH=aks: the revisions go through the ARM emulator, which keeps running.
cluster-up: tools
	$(DEVCLUSTER) up --dir $(DEV_DIR) --revisions "$(REVISIONS)" --pod-start-delay $(POD_START_DELAY) $(if $(SIMULATED),--simulated) $(if $(MESH),--mesh $(MESH))

## cluster-down: stop every process cluster-up started and remove its data.
cluster-down:
	$(DEVCLUSTER) down --dir $(DEV_DIR)

## demo: the main job on the bundled example config repo, start to finish.
demo: tools build
	DEV_DIR=$(DEV_DIR) ./hack/demo.sh

clean: cluster-down
	rm -rf bin
