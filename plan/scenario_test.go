package plan

import (
	"fmt"
	"strings"
	"testing"

	"github.com/meshops/meshops/mesh"
	"github.com/meshops/meshops/observe"
	"github.com/meshops/meshops/ref"
	"github.com/meshops/meshops/rollout"
)

func healthy(rev string) mesh.ControlPlane {
	return mesh.ControlPlane{Revision: rev, Found: true, InjectorPresent: true,
		DeploymentCounts: rollout.DeploymentCounts{Desired: 2, Replicas: 2, Updated: 2, Ready: 2, Available: 2}}
}

func workload(kind ref.WorkloadKind, ns, name string, revs ...string) observe.Workload {
	w := observe.Workload{Kind: kind, Namespace: ns, Name: name}
	for _, r := range revs {
		w.Pods = append(w.Pods, observe.Pod{Name: name + "-" + r, Sidecar: mesh.Sidecar{Injected: true, Revision: r}, Ready: true})
	}
	return w
}

// snapshot builds a cluster with both revisions healthy, the tag on tagRev
// (none when empty), namespace app on the tag and legacy on asm-1-28 directly.
func snapshot(tagRev string, workloads ...observe.Workload) *observe.Snapshot {
	s := &observe.Snapshot{
		ControlPlanes: map[string]mesh.ControlPlane{"asm-1-28": healthy("asm-1-28"), "asm-1-29": healthy("asm-1-29")},
		Tags:          map[string]observe.Tag{},
		Namespaces: map[string]observe.Namespace{
			"app":    {Name: "app", Rev: "prod-stable"},
			"legacy": {Name: "legacy", Rev: "asm-1-28"},
		},
		Workloads: workloads,
		// The example repo's public IP, already in place.
		Ingress: &observe.Ingress{Namespace: "aks-istio-ingress", Name: "aks-istio-ingressgateway-external", Address: "20.61.0.10",
			Annotations: map[string]string{AzurePIPNameAnnotation: "aro-hcp-istio-ingress", AzureLBResourceGroupAnnotation: "hcp-underlay-dev-westus3"}},
	}
	if tagRev != "" {
		s.Tags["prod-stable"] = observe.Tag{Name: "prod-stable", Revision: tagRev}
	}
	return s
}

func TestClassify(t *testing.T) {
	both := Desired{Versions: []string{"asm-1-28", "asm-1-29"}, Target: "asm-1-29", Tag: "prod-stable"}
	only29 := Desired{Versions: []string{"asm-1-29"}, Target: "asm-1-29", Tag: "prod-stable"}
	back := Desired{Versions: []string{"asm-1-28", "asm-1-29"}, Target: "asm-1-28", Tag: "prod-stable"}
	unhealthy := snapshot("asm-1-28")
	cp := unhealthy.ControlPlanes["asm-1-29"]
	cp.Ready, cp.Available = 0, 0
	unhealthy.ControlPlanes["asm-1-29"] = cp
	noInjector := snapshot("asm-1-28")
	cp = noInjector.ControlPlanes["asm-1-29"]
	cp.InjectorPresent = false
	noInjector.ControlPlanes["asm-1-29"] = cp
	missing := snapshot("asm-1-28")
	delete(missing.ControlPlanes, "asm-1-29")
	upstream, err := mesh.ParseRevisionPattern(mesh.UpstreamRevisionPattern)
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name     string
		snap     *observe.Snapshot
		desired  Desired
		changes  Changes
		want     Scenario
		blocked  bool
		reason   string
		restart  []string
		stranded []string
	}{
		{name: "in sync", snap: snapshot("asm-1-29", workload(ref.Deployment, "app", "web", "asm-1-29")), desired: both, want: ScenarioInSync},
		{name: "fresh install: no tag yet", snap: snapshot("", workload(ref.Deployment, "app", "web")), desired: both, want: ScenarioFreshInstall},
		{name: "upgrade moves the tag and restarts", snap: snapshot("asm-1-28", workload(ref.Deployment, "app", "web", "asm-1-28", "asm-1-28")),
			desired: both, want: ScenarioUpgrade, reason: "asm-1-28 → asm-1-29", restart: []string{"Deployment/app/web"}},
		{name: "upgrade with the old revision already gone from versions", snap: snapshot("asm-1-28", workload(ref.StatefulSet, "app", "db", "asm-1-28")),
			desired: only29, want: ScenarioUpgrade, restart: []string{"StatefulSet/app/db"}},
		{name: "rollback: target older than the tag", snap: snapshot("asm-1-29", workload(ref.Deployment, "app", "web", "asm-1-29")),
			desired: back, want: ScenarioRollback, reason: "asm-1-29 → asm-1-28", restart: []string{"Deployment/app/web"}},
		{name: "resume: tag on target, a workload left behind", snap: snapshot("asm-1-29",
			workload(ref.Deployment, "app", "web", "asm-1-29"), workload(ref.DaemonSet, "app", "agent", "asm-1-28", "asm-1-29")),
			desired: both, want: ScenarioResume, restart: []string{"DaemonSet/app/agent"}},
		{name: "target not installed blocks", snap: missing, desired: both, want: ScenarioTargetNotInstalled, blocked: true, reason: "not installed"},
		{name: "target unhealthy blocks", snap: unhealthy, desired: both, want: ScenarioTargetUnhealthy, blocked: true, reason: "0 ready"},
		{name: "target without injector blocks", snap: noInjector, desired: both, want: ScenarioTargetUnhealthy, blocked: true, reason: "no injector webhook"},
		{name: "revision removed while a namespace pinned to it uses it", snap: snapshot("asm-1-29",
			workload(ref.Deployment, "legacy", "old", "asm-1-28")),
			desired: only29, want: ScenarioRevisionInUse, blocked: true, reason: "Deployment/legacy/old (on asm-1-28)",
			stranded: []string{"Deployment/legacy/old (on asm-1-28)"}},
		{name: "bare pod on the tag cannot be moved by a restart", snap: snapshot("asm-1-28", workload(ref.Pod, "app", "debug", "asm-1-28")),
			desired: only29, want: ScenarioRevisionInUse, blocked: true, stranded: []string{"Pod/app/debug (on asm-1-28)"}},
		{name: "a pinned namespace on a revision that stays is left alone", snap: snapshot("asm-1-29",
			workload(ref.Deployment, "legacy", "old", "asm-1-28")), desired: both, want: ScenarioInSync},
		{name: "a proxy that names no revision neither blocks nor restarts", snap: snapshot("asm-1-29",
			workload(ref.Deployment, "gateway", "ingress", "")), desired: only29, want: ScenarioInSync},
		{name: "proxy patch", snap: snapshot("asm-1-29", workload(ref.Deployment, "app", "web", "asm-1-29")), desired: both,
			changes: Changes{ProxyPatch: true}, want: ScenarioProxyPatch},
		{name: "policy-only", snap: snapshot("asm-1-29"), desired: both, changes: Changes{Policies: true, Drift: true}, want: ScenarioPolicyOnly},
		{name: "drift", snap: snapshot("asm-1-29"), desired: both, changes: Changes{Drift: true}, want: ScenarioDrift},
		{name: "revisions compare by number, not text", snap: &observe.Snapshot{
			ControlPlanes: map[string]mesh.ControlPlane{"asm-1-9": healthy("asm-1-9"), "asm-1-10": healthy("asm-1-10")},
			Tags:          map[string]observe.Tag{"prod-stable": {Revision: "asm-1-9"}},
		}, desired: Desired{Versions: []string{"asm-1-9", "asm-1-10"}, Target: "asm-1-10", Tag: "prod-stable"}, want: ScenarioUpgrade},
		{name: "upstream revision names with a configured pattern", snap: &observe.Snapshot{
			ControlPlanes: map[string]mesh.ControlPlane{"1-29-9": healthy("1-29-9"), "1-29-10": healthy("1-29-10")},
			Tags:          map[string]observe.Tag{"prod-stable": {Revision: "1-29-9"}},
		}, desired: Desired{Versions: []string{"1-29-9", "1-29-10"}, Target: "1-29-10", Tag: "prod-stable", Pattern: upstream}, want: ScenarioUpgrade},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Classify(tt.snap, tt.desired, tt.changes)
			if got.Scenario != tt.want || got.Blocked != tt.blocked {
				t.Fatalf("Classify() = %q blocked=%v (%s); want %q blocked=%v", got.Scenario, got.Blocked, got.Reason, tt.want, tt.blocked)
			}
			if !strings.Contains(got.Reason, tt.reason) {
				t.Errorf("reason %q does not contain %q", got.Reason, tt.reason)
			}
			if strings.Join(names(got.Restart), ",") != strings.Join(tt.restart, ",") {
				t.Errorf("restart = %v, want %v", got.Restart, tt.restart)
			}
			if strings.Join(names(got.Stranded), ",") != strings.Join(tt.stranded, ",") {
				t.Errorf("stranded = %v, want %v", got.Stranded, tt.stranded)
			}
		})
	}
}

func names[T fmt.Stringer](xs []T) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = x.String()
	}
	return out
}
