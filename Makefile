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

.PHONY: all build test test-e2e bench fmt-check vet tools cluster-up cluster-down demo clean

all: build

build:
	$(GO) build -ldflags "-X main.version=$(VERSION)" -o bin/meshops ./cmd/meshops

## tools: build the control-plane binaries from the Go module proxy into
## the cache (${MESHOPS_CACHE_DIR:-~/.cache/meshops}); cached builds are reused.
tools:
	$(DEVCLUSTER) tools

fmt-check:
	@out="$$(gofmt -l $$($(GO) list -f '{{.Dir}}' ./...) hack/tools)"; \
	if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

## test: formatter check, go vet, then every test against the real API server.
test: fmt-check vet tools
	KUBEBUILDER_ASSETS="$$($(DEVCLUSTER) assets)" $(GO) test -count=1 -timeout $(TEST_TIMEOUT) ./...

## test-e2e: only the tests against the full local control plane.
test-e2e: tools
	$(GO) test -count=1 -timeout $(TEST_TIMEOUT) ./test/e2e/...

## bench: benchmarks against the real API server (not part of make test).
bench: tools
	KUBEBUILDER_ASSETS="$$($(DEVCLUSTER) assets)" $(GO) test -run '^$$' -bench . -benchtime 5x -timeout 30m ./plan/... ./sync/gitsource/...

## cluster-up: start the local control plane in the background (etcd,
## kube-apiserver, controller-manager, scheduler, kwok, a real istiod per
## revision, the ingress gateway); kubeconfig in $(DEV_DIR)/kubeconfig.
cluster-up: tools
	$(DEVCLUSTER) up --dir $(DEV_DIR) --revisions "$(REVISIONS)" --pod-start-delay $(POD_START_DELAY) $(if $(SIMULATED),--simulated)

## cluster-down: stop every process cluster-up started and remove its data.
cluster-down:
	$(DEVCLUSTER) down --dir $(DEV_DIR)

## demo: the main job on the bundled example config repo, start to finish.
demo: tools build
	DEV_DIR=$(DEV_DIR) REVISIONS="$(REVISIONS)" ./hack/demo.sh

clean: cluster-down
	rm -rf bin
