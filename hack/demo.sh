#!/usr/bin/env bash
# `make demo`: meshops' main job on an embedded default. Starts the local
# control plane as an AKS cluster on Istio revision asm-1-28 (an emulator of
# the add-on's ARM API installs and removes revisions for real), runs meshops
# against the bundled example config repo, shows what happened, and stops
# the cluster again.
set -euo pipefail
cd "$(dirname "$0")/.."

DEV_DIR=${DEV_DIR:-.dev}
REPO=${DEMO_REPO:-configs/examples/aro-hcp-dev}
MESHOPS=./bin/meshops
export KUBECONFIG="$PWD/$DEV_DIR/kubeconfig"

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

cleanup() {
	step "stopping the local cluster"
	go run ./hack/devcluster down --dir "$DEV_DIR"
	rm -rf "${WORK:-}"
}
trap cleanup EXIT

step "starting a local control plane as an AKS cluster on asm-1-28 (etcd, kube-apiserver, controller-manager, scheduler, kwok, istiod, the ARM emulator)"
go run ./hack/devcluster up --dir "$DEV_DIR" --revisions asm-1-28 --mesh aks --arm-latency 1s
# How meshops reaches ARM and signs in: the subscription, resource group,
# cluster, ARM endpoint and a client secret of the emulator's own.
# shellcheck disable=SC1091
source "$DEV_DIR/azure.env"

step "the cluster meshops will manage: one control-plane revision"
kubectl get nodes
kubectl get deployments -n aks-istio-system

# The example repo as ARO HCP now writes it: versions is the single desired
# revision, and meshops drives the AKS add-on (meshops.revisions.provider aks).
WORK=$(mktemp -d)
at_revision() {
	rm -rf "$WORK/repo"
	cp -r "$REPO" "$WORK/repo"
	sed -i -e "s/versions: \"asm-1-28,asm-1-29\"/versions: \"$1\"/" -e "s/targetVersion: \"asm-1-29\"/targetVersion: \"$1\"/" \
		"$WORK/repo/config/config.yaml"
	printf '  revisions:\n    provider: aks\n' >>"$WORK/repo/meshops.yaml"
	(cd "$WORK/repo" && git init -q && git add -A && git -c user.name=demo -c user.email=demo@example.com commit -qm "svc.istio.versions: $1")
}

step "meshops validate: what meshops understood of the config repo (versions: asm-1-28)"
at_revision asm-1-28
"$MESHOPS" validate --repo-path "$WORK/repo"

step "yesterday's state, synced: policies, namespace labels and tag prod-stable on asm-1-28"
for ns in aro-hcp clusters-service maestro; do kubectl create namespace "$ns"; done
"$MESHOPS" sync --repo-path "$WORK/repo"

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

step "a merge: versions \"asm-1-29\". meshops plan: canary through ARM, tag flip, restarts, verify, complete (exit code 2: changes pending)"
at_revision asm-1-29
set +e
"$MESHOPS" plan --repo-path "$WORK/repo"
code=$?
set -e
[ "$code" -eq 2 ] || { echo "meshops plan exited $code, expected 2"; exit 1; }

step "meshops sync: the add-on starts asm-1-29 beside asm-1-28, workloads move, the canary completes"
"$MESHOPS" sync --repo-path "$WORK/repo"

step "every workload runs asm-1-29, and asm-1-28 is gone from the cluster"
pods_by_revision
kubectl get deployments -n aks-istio-system

step "meshops plan again: nothing to do (exit code 0)"
"$MESHOPS" plan --repo-path "$WORK/repo"

step "done"
