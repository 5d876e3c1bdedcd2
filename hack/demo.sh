#!/usr/bin/env bash
# `make demo`: a platform engineer's day with meshops, in six parts, each
# told before its output. It starts the local control plane as an AKS
# cluster on Istio revision asm-1-28 (an emulator of the add-on's ARM API
# installs and removes revisions for real), runs meshops against a copy of
# the bundled example config repo (plan, sync of an upgrade, status, a drift
# repair, an automatic rollback from a broken revision), checks that each
# part did what its story says (exit codes included), and stops the cluster
# again. Exits 0 only if every part behaved as expected.
set -euo pipefail
cd "$(dirname "$0")/.."

DEV_DIR=${DEV_DIR:-.dev}
REPO=${DEMO_REPO:-configs/examples/aro-hcp-dev}
MESHOPS=./bin/meshops
export KUBECONFIG="$PWD/$DEV_DIR/kubeconfig"
# The revision this demo's cluster releases broken (part 6).
BROKEN=asm-1-30

if [ -t 1 ] && [ -z "${NO_COLOR:-}" ]; then
	bold=$'\033[1m' dim=$'\033[2m' reset=$'\033[0m'
else
	bold='' dim='' reset=''
fi

# part N TITLE STORY-LINE...: a header line, then the story of what the
# engineer does and what to look for in the output below it.
part() {
	local n=$1 title=$2
	shift 2
	local rule
	rule=$(printf '━%.0s' $(seq $((56 - ${#title}))))
	printf '\n%s━━━━ %s/6  %s %s at %ds%s\n' "$bold" "$n" "$title" "$rule" "$SECONDS" "$reset"
	printf '  %s\n' "$@"
	echo
}

# typed CMD...: the command as the engineer would type it.
typed() {
	local args=("${@/#"$MESHOPS"/meshops}")
	args=("${args[@]//"$WORK/"/}")
	printf '%s' "${args[*]}"
}
show() { printf '%s$ %s%s\n' "$bold" "$(typed "$@")" "$reset"; }

# expect CODE WHY CMD...: show and run CMD, with stdin not a terminal (so
# meshops never asks for a confirmation), and fail the demo unless it
# exits CODE: the non-zero exits of the story are checked, not ignored.
expect() {
	local want=$1 why=$2 code=0
	shift 2
	show "$@"
	"$@" </dev/null || code=$?
	if [ "$code" -ne "$want" ]; then
		printf '\ndemo FAILED: %s exited %d; the story expects %d (%s)\n' "$(typed "$@")" "$code" "$want" "$why" >&2
		exit 1
	fi
	printf '%s→ exit code %d: %s%s\n' "$dim" "$code" "$why" "$reset"
}

# check WHAT CONDITION...: fail the demo unless CONDITION holds.
check() {
	local what=$1
	shift
	if ! "$@"; then
		printf '\ndemo FAILED: %s\n' "$what" >&2
		exit 1
	fi
	printf '%s✓ %s%s\n' "$dim" "$what" "$reset"
}

cleanup() {
	printf '\n%s━━━━ stopping the local cluster%s\n' "$bold" "$reset"
	go run ./hack/devcluster down --dir "$DEV_DIR"
	rm -rf "${WORK:-}"
}
trap cleanup EXIT
WORK=$(mktemp -d)

# The config repo: a copy of the bundled example in a git repo of its own,
# so the demo's merges are commits and the checked-in example never changes.
CONFIG=$WORK/config-repo
cp -r "$REPO" "$CONFIG"
# meshops drives the AKS add-on through ARM; a workload gets 20s to roll out
# (the example says 5m), so the failure of part 6 shows within the demo.
printf '  revisions:\n    provider: aks\n' >>"$CONFIG/meshops.yaml"
sed -i 's/workloadTimeout: 5m$/workloadTimeout: 20s/' "$CONFIG/meshops.yaml"
git -C "$CONFIG" init -q
# merge MESSAGE REVISION: set svc.istio.versions (and targetVersion) to the
# single desired revision, as ARO HCP now writes it, and commit.
merge() {
	sed -i -E "s/^( *)(versions|targetVersion): \".*\"/\1\2: \"$2\"/" "$CONFIG/config/config.yaml"
	git -C "$CONFIG" add -A
	git -C "$CONFIG" -c user.name=demo -c user.email=demo@example.com commit -qm "$1"
	printf '%smerged into config-repo: %s%s\n' "$dim" "$(git -C "$CONFIG" log --oneline -1)" "$reset"
}

pods_by_revision() {
	kubectl get pods -A -l 'app' -o jsonpath='{range .items[*]}{.metadata.namespace}/{.metadata.name}{"  "}{.metadata.annotations.sidecar\.istio\.io/status}{"\n"}{end}' |
		sed -E 's/  .*"revision":"([^"]*)".*/  \1/' | grep -E '^(aro-hcp|clusters-service|maestro)/' | sort
}
list_pods() {
	printf '%s# pods by the revision that injected them (sidecar.istio.io/status)%s\n' "$dim" "$reset"
	pods_by_revision
}
rolled_out() {
	for ns in aro-hcp clusters-service maestro; do
		kubectl rollout status -n "$ns" deployment --timeout=120s >/dev/null
	done
}
tag_revision() {
	kubectl get mutatingwebhookconfiguration istio-revision-tag-prod-stable-aks-istio-system -o jsonpath='{.metadata.labels.istio\.io/rev}'
}
every_pod_on() {
	local pods
	pods=$(pods_by_revision)
	[ -n "$pods" ] && ! grep -qv "  $1\$" <<<"$pods"
}
# istiods: the installed istiod Deployments, space-separated.
istiods() {
	local names
	names=$(kubectl get deployments -n aks-istio-system -l app=istiod -o jsonpath='{.items[*].metadata.name}')
	printf '%s' "$names"
}
policy_exists() { kubectl get authorizationpolicy "$2" -n "$1" -o name >/dev/null; }

# mesh_on REV: once the rollouts are over, every workload runs REV, the tag
# points at it, and its istiod is the only one installed (ARM removed the
# other: the canary completed, or was rolled back).
mesh_on() {
	rolled_out
	list_pods
	check "every workload runs $1" every_pod_on "$1"
	check "the tag points at $1" test "$(tag_revision)" = "$1"
	check "only istiod-$1 is installed (installed: $(istiods))" test "$(istiods)" = "istiod-$1"
}

part 1 "a local AKS cluster, as it was yesterday" \
	"You run the mesh of ARO HCP's dev service cluster (westus3). A local stand-in starts: real etcd," \
	"kube-apiserver, controllers and istiod, kwok nodes, and an emulator of the AKS Istio add-on's ARM API." \
	"Yesterday's state follows: the example config synced on revision asm-1-28, and six workloads." \
	"Look for: 'cluster up in', then every workload's pods injected by asm-1-28."
go run ./hack/devcluster up --dir "$DEV_DIR" --revisions asm-1-28 --mesh aks --arm-latency 1s --never-ready-revisions "$BROKEN"
# How meshops reaches ARM and signs in: the subscription, resource group,
# cluster, ARM endpoint and a client secret of the emulator's own.
# shellcheck disable=SC1091
source "$DEV_DIR/azure.env"
printf '%sconfig-repo: a copy of %s in %s%s\n' "$dim" "$REPO" "$WORK" "$reset"
merge "svc.istio.versions: asm-1-28" asm-1-28
for ns in aro-hcp clusters-service maestro; do kubectl create namespace "$ns" >/dev/null; done
show "$MESHOPS" sync --repo-path "$CONFIG"
if ! "$MESHOPS" sync --repo-path "$CONFIG" </dev/null >"$WORK/yesterday.log" 2>&1; then
	cat "$WORK/yesterday.log"
	printf '\ndemo FAILED: the sync of yesterday'\''s state\n' >&2
	exit 1
fi
printf '%s(its plan and progress trimmed: the summary)%s\n' "$dim" "$reset"
tail -n 2 "$WORK/yesterday.log"
for ns in aro-hcp clusters-service maestro; do
	kubectl create deployment "$ns-api" -n "$ns" --image="registry.example/$ns-api:1" --replicas=2 >/dev/null
	kubectl create deployment "$ns-worker" -n "$ns" --image="registry.example/$ns-worker:1" >/dev/null
done
rolled_out
list_pods
check "every workload runs asm-1-28" every_pod_on asm-1-28

part 2 "a merge, planned: meshops plan" \
	"A teammate merges 'svc.istio.versions: asm-1-29' into the config repo. Before anything changes," \
	"meshops plan reads the repo and the cluster and prints the steps a sync would take, in order:" \
	"canary through ARM, gate, tag flip, restarts, verify, complete, prune. Exit code 2 means" \
	"'changes pending' (CI branches on it: 0 nothing to do, 2 changes, 3 blocked)."
merge "svc.istio.versions: asm-1-29" asm-1-29
expect 2 "changes pending" "$MESHOPS" plan --repo-path "$CONFIG"

part 3 "the upgrade: meshops sync" \
	"sync runs that plan. The add-on starts asm-1-29 beside asm-1-28; the tag moves once a probe pod" \
	"comes back injected by asm-1-29; each workload restarts within its disruption budget; verify" \
	"passes, and ARM removes asm-1-28. Look for one line per step, then the summary (6 restarted)."
expect 0 "in sync" "$MESHOPS" sync --repo-path "$CONFIG"
mesh_on asm-1-29

part 4 "where the mesh stands: meshops status" \
	"The first question after any change. status shows, on one screen, what istioctl tag list," \
	"istioctl proxy-status and flux get would together: where the tag points, each revision's istiod" \
	"health, the workloads and pods on each (naming stragglers), and meshops' own record." \
	"Look for: prod-stable on asm-1-29 with 6 workloads, last result succeeded. (The ingress gateway's" \
	"proxy comes from its own chart and names no revision: status lists it as unknown, and says why.)"
expect 0 "printed" "$MESHOPS" status

part 5 "a hand edit, repaired" \
	"During an incident someone 'fixes' things by hand: deletes maestro's default-deny policy" \
	"allow-nothing, and adds an allow-all rule to the one of clusters-service. Both namespaces are now" \
	"open to anything in the mesh. meshops plan finds the drift (exit 2) and shows it as a diff; sync" \
	"puts git's policies back (a security policy is exactly what git says, rules added by hand" \
	"included); the next plan is clean (exit 0)."
show kubectl delete authorizationpolicy allow-nothing -n maestro
kubectl delete authorizationpolicy allow-nothing -n maestro
show kubectl patch authorizationpolicy allow-nothing -n clusters-service --type=merge -p "'{\"spec\":{\"rules\":[{}]}}'"
kubectl patch authorizationpolicy allow-nothing -n clusters-service --type=merge -p '{"spec":{"rules":[{}]}}'
expect 2 "changes pending: the drift" "$MESHOPS" plan --repo-path "$CONFIG"
expect 0 "repaired" "$MESHOPS" sync --repo-path "$CONFIG"
expect 0 "nothing to do" "$MESHOPS" plan --repo-path "$CONFIG"
check "maestro's default deny is back" policy_exists maestro allow-nothing
check "clusters-service's default deny has no rule again" \
	test "$(kubectl get authorizationpolicy allow-nothing -n clusters-service -o jsonpath='{.spec.rules}')" = ""

part 6 "a bad release, rolled back on its own" \
	"Next, a merge moves versions to $BROKEN. Its istiod is healthy and injects pods, but the release is" \
	"broken: pods it injects never turn ready (here the local add-on installs $BROKEN with an injection" \
	"template kwok never readies, standing in for a proxy that crashes on start). meshops starts the canary," \
	"moves the tag and restarts the first workloads; they do not roll out within the workload timeout" \
	"(20s in this copy of the config), so it moves the tag and those workloads back to asm-1-29, has ARM" \
	"remove $BROKEN, records it as bad and exits 1. status then shows asm-1-29 and the bad revision, and" \
	"plan refuses to try $BROKEN again at this commit (exit 3, blocked)."
merge "svc.istio.versions: $BROKEN" "$BROKEN"
expect 1 "the rollout failed and was rolled back" "$MESHOPS" sync --repo-path "$CONFIG"
mesh_on asm-1-29
show "$MESHOPS" status
"$MESHOPS" status </dev/null | tee "$WORK/status.txt"
check "status says the last run rolled back" grep -qE '^last result +rolled back$' "$WORK/status.txt"
check "status records $BROKEN as a bad revision" grep -qE "^bad revision +$BROKEN " "$WORK/status.txt"
expect 3 "blocked: $BROKEN failed at this commit" "$MESHOPS" plan --repo-path "$CONFIG"

printf '\n%s━━━━ done: every part behaved as its story says, in %ds%s\n' "$bold" "$SECONDS" "$reset"
