#!/usr/bin/env bash
# `make demo`: meshops' main job on an embedded default. Starts the local
# control plane with the simulated AKS mesh, runs meshops against the bundled
# example config repo, shows what happened, and stops the cluster again.
set -euo pipefail
cd "$(dirname "$0")/.."

DEV_DIR=${DEV_DIR:-.dev}
REVISIONS=${REVISIONS:-asm-1-28 asm-1-29}
REPO=${DEMO_REPO:-configs/examples/aro-hcp-dev}
MESHOPS=./bin/meshops
export KUBECONFIG="$PWD/$DEV_DIR/kubeconfig"

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

cleanup() {
	step "stopping the local cluster"
	go run ./hack/devcluster down --dir "$DEV_DIR"
}
trap cleanup EXIT

step "starting a local control plane (etcd, kube-apiserver, controller-manager, scheduler, kwok, istiod $REVISIONS)"
go run ./hack/devcluster up --dir "$DEV_DIR" --revisions "$REVISIONS"

step "the cluster meshops will manage"
kubectl get nodes
kubectl get deployments -n aks-istio-system
kubectl get mutatingwebhookconfigurations

step "a namespace on revision asm-1-28: a server-side dry-run pod is injected by the real istiod"
kubectl create namespace demo-injection
kubectl label namespace demo-injection istio.io/rev=asm-1-28
kubectl run probe -n demo-injection --image=registry.example/probe:1 --dry-run=server \
	-o jsonpath='{.metadata.annotations.sidecar\.istio\.io/status}{"\n"}' | grep -o '"revision":"[^"]*"'
kubectl run probe -n demo-injection --image=registry.example/probe:1 --dry-run=server \
	-o jsonpath='{range .spec.initContainers[*]}{.name}{"  "}{.image}{"  restartPolicy="}{.restartPolicy}{"\n"}{end}'

step "meshops validate --show: what meshops understood of $REPO"
"$MESHOPS" validate --repo-path "$REPO" --show

step "yesterday's state: the same repo with targetVersion asm-1-28, synced (a fresh install of tag prod-stable)"
for ns in aro-hcp clusters-service maestro; do kubectl create namespace "$ns"; done
OLD=$(mktemp -d)
cp -r "$REPO"/. "$OLD"
sed -i 's/targetVersion: "asm-1-29"/targetVersion: "asm-1-28"/' "$OLD/config/config.yaml"
"$MESHOPS" sync --repo-path "$OLD"
rm -rf "$OLD"

step "two workloads per namespace, injected by asm-1-28 through the tag"
for ns in aro-hcp clusters-service maestro; do
	kubectl create deployment "$ns-api" -n "$ns" --image="registry.example/$ns-api:1" --replicas=2
	kubectl create deployment "$ns-worker" -n "$ns" --image="registry.example/$ns-worker:1"
done
for ns in aro-hcp clusters-service maestro; do
	kubectl rollout status -n "$ns" deployment --timeout=120s >/dev/null
done
pods_by_revision() {
	kubectl get pods -A -l 'app' -o jsonpath='{range .items[*]}{.metadata.namespace}/{.metadata.name}{"  "}{.metadata.annotations.sidecar\.istio\.io/status}{"\n"}{end}' |
		sed -E 's/  .*"revision":"([^"]*)".*/  \1/' | grep -E 'aro-hcp|clusters-service|maestro' | sort
}
pods_by_revision

step "meshops plan on $REPO (targetVersion asm-1-29): an upgrade (exit code 2: changes pending)"
set +e
"$MESHOPS" plan --repo-path "$REPO"
code=$?
set -e
[ "$code" -eq 2 ] || { echo "meshops plan exited $code, expected 2"; exit 1; }

step "meshops sync: gate, policies, the tag flip, restarts gated on health, verify"
"$MESHOPS" sync --repo-path "$REPO"

step "every workload now runs asm-1-29"
pods_by_revision

step "meshops plan again: nothing to do (exit code 0)"
"$MESHOPS" plan --repo-path "$REPO"

step "done"
