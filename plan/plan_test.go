package plan

import (
	"fmt"
	"strings"
	"testing"

	"github.com/meshops/meshops/configs"
	"github.com/meshops/meshops/mesh"
)

func change(t *testing.T, cfg *configs.Config, id string, action ObjectAction) ObjectChange {
	t.Helper()
	for _, m := range cfg.Manifests {
		if m.ID() == id {
			return ObjectChange{Manifest: m, Action: action, Diff: "--- live\n+++ git\n"}
		}
	}
	t.Fatalf("no manifest %s", id)
	return ObjectChange{}
}

// An upgrade of the example repo: steps come in phase order, ALLOW before
// default deny, restarts in the configured namespace order (maestro,
// clusters-service, aro-hcp), and workloads a restart cannot move are
// warnings, not steps.
func TestBuildOrdersAnUpgradeSafely(t *testing.T) {
	cfg := loadExample(t)
	snap := snapshot("asm-1-28",
		workload(KindDeployment, "aro-hcp", "frontend", "asm-1-28"),
		workload(KindDeployment, "clusters-service", "clusters-service", "asm-1-28"),
		workload(KindStatefulSet, "maestro", "maestro", "asm-1-28"),
		workload(KindJob, "maestro", "migrate", "asm-1-28"),
	)
	for _, ns := range []string{"aro-hcp", "clusters-service", "maestro"} {
		snap.Namespaces[ns] = Namespace{Name: ns, Rev: "prod-stable"}
	}
	objects := []ObjectChange{
		change(t, cfg, "AuthorizationPolicy/maestro/allow-nothing", ObjectCreate),
		change(t, cfg, "AuthorizationPolicy/maestro/allow-cluster-service", ObjectUpdate),
		change(t, cfg, "ConfigMap/aks-istio-system/istio-shared-configmap-asm-1-29", ObjectUpdate),
		change(t, cfg, "PeerAuthentication/maestro/default", ObjectUnchanged),
	}
	p := Build(Inputs{Config: cfg, Snapshot: snap, Objects: objects, Commit: "abc", LastApplied: "old"})

	var got []string
	for _, s := range p.Steps {
		got = append(got, fmt.Sprintf("%s %s %s", s.Phase, s.Action, s.Target))
	}
	want := []string{
		"validate check config",
		"gate check revision/asm-1-29",
		"mesh-config update ConfigMap/aks-istio-system/istio-shared-configmap-asm-1-29",
		"policies update AuthorizationPolicy/maestro/allow-cluster-service",
		"policies create AuthorizationPolicy/maestro/allow-nothing",
		"tag flip MutatingWebhookConfiguration/istio-revision-tag-prod-stable-aks-istio-system",
		"restarts restart StatefulSet/maestro/maestro",
		"restarts restart Deployment/clusters-service/clusters-service",
		"restarts restart Deployment/aro-hcp/frontend",
		"verify check mesh",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("steps:\n%s\n\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if p.Scenario != ScenarioUpgrade || !p.Pending() || p.Blocked {
		t.Errorf("scenario %q pending=%v blocked=%v", p.Scenario, p.Pending(), p.Blocked)
	}
	if len(p.Warnings) != 1 || !strings.Contains(p.Warnings[0], "Job/maestro/migrate") {
		t.Errorf("warnings = %v, want one for the Job", p.Warnings)
	}
}

func TestBuildStopsAtTheGateWhenTheTargetIsUnhealthy(t *testing.T) {
	cfg := loadExample(t)
	snap := snapshot("asm-1-28", workload(KindDeployment, "aro-hcp", "frontend", "asm-1-28"))
	cp := snap.ControlPlanes["asm-1-29"]
	cp.Ready, cp.Available = 0, 0
	snap.ControlPlanes["asm-1-29"] = cp
	p := Build(Inputs{Config: cfg, Snapshot: snap, Objects: []ObjectChange{change(t, cfg, "AuthorizationPolicy/maestro/allow-nothing", ObjectCreate)}})
	if !p.Blocked || p.Scenario != ScenarioTargetUnhealthy || len(p.Steps) != 2 || p.Pending() {
		t.Fatalf("plan = %+v; want blocked at the gate with no change step", p)
	}
}

func TestBuildIsInSyncAndDriftAtTheAppliedCommit(t *testing.T) {
	cfg := loadExample(t)
	snap := snapshot("asm-1-29", workload(KindDeployment, "aro-hcp", "frontend", "asm-1-29"))
	for _, ns := range cfg.Settings.Extensions.Namespaces {
		snap.Namespaces[ns] = Namespace{Name: ns, Rev: "prod-stable"}
	}
	p := Build(Inputs{Config: cfg, Snapshot: snap, Commit: "abc", LastApplied: "abc"})
	if p.Scenario != ScenarioInSync || p.Pending() {
		t.Errorf("scenario %q pending=%v, want in sync with nothing pending", p.Scenario, p.Pending())
	}
	p = Build(Inputs{Config: cfg, Snapshot: snap, Commit: "abc", LastApplied: "abc",
		Objects: []ObjectChange{change(t, cfg, "AuthorizationPolicy/maestro/allow-cluster-service", ObjectUpdate)}})
	if p.Scenario != ScenarioDrift || !p.Pending() {
		t.Errorf("scenario %q pending=%v, want drift", p.Scenario, p.Pending())
	}
}

func TestBuildRestartsWorkloadsWithAnOlderProxyOfTheTarget(t *testing.T) {
	cfg := loadExample(t)
	w := workload(KindDeployment, "aro-hcp", "frontend", "asm-1-29")
	w.Pods[0].Sidecar.Image = "mcr.microsoft.com/oss/istio/proxyv2:1.29.1"
	snap := snapshot("asm-1-29", w)
	for _, ns := range cfg.Settings.Extensions.Namespaces {
		snap.Namespaces[ns] = Namespace{Name: ns, Rev: "prod-stable"}
	}
	probe := mesh.Sidecar{Injected: true, Revision: "asm-1-29", Image: "mcr.microsoft.com/oss/istio/proxyv2:1.29.2"}
	p := Build(Inputs{Config: cfg, Snapshot: snap, Probe: &probe})
	if p.Scenario != ScenarioProxyPatch {
		t.Fatalf("scenario %q, want proxy patch", p.Scenario)
	}
	last := p.Steps[len(p.Steps)-2]
	if last.Action != ActionRestart || last.Target != "Deployment/aro-hcp/frontend" || !strings.Contains(last.Reason, "1.29.2") {
		t.Errorf("restart step = %+v", last)
	}
}
