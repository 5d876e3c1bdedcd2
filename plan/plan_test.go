package plan

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/fluxcd/cli-utils/pkg/object"

	"github.com/meshops/meshops/configs"
	"github.com/meshops/meshops/mesh"
	"github.com/meshops/meshops/observe"
	"github.com/meshops/meshops/ref"
	"github.com/meshops/meshops/state"
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
		workload(ref.Deployment, "aro-hcp", "frontend", "asm-1-28"),
		workload(ref.Deployment, "clusters-service", "clusters-service", "asm-1-28"),
		workload(ref.StatefulSet, "maestro", "maestro", "asm-1-28"),
		workload(ref.Job, "maestro", "migrate", "asm-1-28"),
	)
	for _, ns := range []string{"aro-hcp", "clusters-service", "maestro"} {
		snap.Namespaces[ns] = observe.Namespace{Name: ns, Rev: "prod-stable"}
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
	// The per-revision mesh config first (a new istiod reads it when it
	// starts), then the gate, then what depends on the target.
	want := []string{
		"validate check config",
		"mesh-config update ConfigMap/aks-istio-system/istio-shared-configmap-asm-1-29",
		"gate check revision/asm-1-29",
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
	snap := snapshot("asm-1-28", workload(ref.Deployment, "aro-hcp", "frontend", "asm-1-28"))
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
	snap := snapshot("asm-1-29", workload(ref.Deployment, "aro-hcp", "frontend", "asm-1-29"))
	for _, ns := range cfg.Settings.Extensions.Namespaces {
		snap.Namespaces[ns] = observe.Namespace{Name: ns, Rev: "prod-stable"}
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
	w := workload(ref.Deployment, "aro-hcp", "frontend", "asm-1-29")
	w.Pods[0].Sidecar.Image = "mcr.microsoft.com/oss/istio/proxyv2:1.29.1"
	snap := snapshot("asm-1-29", w)
	for _, ns := range cfg.Settings.Extensions.Namespaces {
		snap.Namespaces[ns] = observe.Namespace{Name: ns, Rev: "prod-stable"}
	}
	probe := mesh.Sidecar{Injected: true, Revision: "asm-1-29", Image: "mcr.microsoft.com/oss/istio/proxyv2:1.29.2"}
	p := Build(Inputs{Config: cfg, Snapshot: snap, Probe: &probe})
	if p.Scenario != ScenarioProxyPatch {
		t.Fatalf("scenario %q, want proxy patch", p.Scenario)
	}
	last := p.Steps[len(p.Steps)-2]
	if last.Action != ActionRestart || last.Target.String() != "Deployment/aro-hcp/frontend" || !strings.Contains(last.Reason, "1.29.2") {
		t.Errorf("restart step = %+v", last)
	}
}

// Objects meshops applied that left git are deleted last, after verify,
// and named exactly; objects still in git are never pruned.
func TestBuildPrunesWhatLeftGitLast(t *testing.T) {
	cfg := loadExample(t)
	snap := snapshot("asm-1-28", workload(ref.Deployment, "aro-hcp", "frontend", "asm-1-28"))
	for _, ns := range cfg.Settings.Extensions.Namespaces {
		snap.Namespaces[ns] = observe.Namespace{Name: ns, Rev: "prod-stable"}
	}
	gone := ref.Object{Group: "security.istio.io", Kind: "AuthorizationPolicy", Namespace: "maestro", Name: "allow-old-client"}
	kept := cfg.Manifests[0].ObjMetadata()
	p := Build(Inputs{Config: cfg, Snapshot: snap, Inventory: object.ObjMetadataSet{gone.Metadata(), kept}})

	last := p.Steps[len(p.Steps)-1]
	if last.Phase != PhasePrune || last.Action != ActionDelete || last.Target.String() != "AuthorizationPolicy/maestro/allow-old-client" ||
		last.Op != OpPrune || last.Target.Object == nil || *last.Target.Object != gone {
		t.Fatalf("last step = %+v, want the prune of %v", last, gone)
	}
	if p.Steps[len(p.Steps)-2].Phase != PhaseVerify {
		t.Errorf("prune comes before verify: %+v", p.Steps)
	}
	for _, s := range p.Steps[:len(p.Steps)-1] {
		if s.Action == ActionDelete {
			t.Errorf("unexpected delete %+v", s)
		}
	}
}

// A revision that failed and was rolled back is not retried at the same
// commit: the plan is blocked and says how to retry; a new commit or the
// retry flag plans the upgrade again.
func TestBuildDoesNotRetryABadRevisionAtTheSameCommit(t *testing.T) {
	cfg := loadExample(t)
	snap := snapshot("asm-1-28", workload(ref.Deployment, "aro-hcp", "frontend", "asm-1-28"))
	for _, ns := range cfg.Settings.Extensions.Namespaces {
		snap.Namespaces[ns] = observe.Namespace{Name: ns, Rev: "prod-stable"}
	}
	bad := map[string]state.BadRevision{"asm-1-29": {Commit: "abc", Error: "Deployment/aro-hcp/frontend did not roll out"}}
	for _, tc := range []struct {
		name    string
		commit  string
		retry   bool
		blocked bool
	}{
		{"same commit", "abc", false, true},
		{"same commit with retry", "abc", true, false},
		{"new commit", "def", false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := Build(Inputs{Config: cfg, Snapshot: snap, Commit: tc.commit, BadRevisions: bad, RetryBadRevision: tc.retry})
			if p.Blocked != tc.blocked {
				t.Fatalf("blocked = %v (%s), want %v", p.Blocked, p.Reason, tc.blocked)
			}
			if tc.blocked && (p.Scenario != ScenarioBadRevision || !strings.Contains(p.Reason, "--retry-bad-revision") || !strings.Contains(p.Reason, "did not roll out")) {
				t.Errorf("blocked plan: %s: %s", p.Scenario, p.Reason)
			}
			if !tc.blocked && p.Scenario != ScenarioUpgrade {
				t.Errorf("scenario %s, want upgrade", p.Scenario)
			}
		})
	}
}

// The gateway Service gets the public IP's name and resource group when
// they differ from the config; a missing Service is a warning.
func TestBuildAnnotatesTheIngressGatewayWithItsPublicIP(t *testing.T) {
	cfg := loadExample(t)
	snap := snapshot("asm-1-29")
	snap.Ingress.Annotations = map[string]string{AzurePIPNameAnnotation: "old-ip"}
	p := Build(Inputs{Config: cfg, Snapshot: snap})
	var found *Step
	for i, s := range p.Steps {
		if s.Target.String() == "Service/aks-istio-ingress/aks-istio-ingressgateway-external" {
			found = &p.Steps[i]
		}
	}
	if found == nil || found.Phase != PhaseMeshConfig || !strings.Contains(found.Reason, "azure-pip-name=aro-hcp-istio-ingress") ||
		!strings.Contains(found.Reason, "azure-load-balancer-resource-group=hcp-underlay-dev-westus3") {
		t.Fatalf("ingress step = %+v in %+v", found, p.Steps)
	}
	snap.Ingress = nil
	p = Build(Inputs{Config: cfg, Snapshot: snap})
	if len(p.Warnings) == 0 || !strings.Contains(p.Warnings[0], "aks-istio-ingressgateway-external not found") {
		t.Errorf("warnings = %v, want the missing gateway Service", p.Warnings)
	}
}

// Bare pods on another revision are warnings, or delete steps when the
// config allows deleting them; Jobs are always warnings.
func TestBuildDeletesBarePodsOnlyWhenAllowed(t *testing.T) {
	for _, allow := range []bool{false, true} {
		t.Run(fmt.Sprintf("deleteBarePods=%v", allow), func(t *testing.T) {
			cfg := loadExample(t)
			cfg.Settings.Extensions.Restart.DeleteBarePods = allow
			snap := snapshot("asm-1-29",
				workload(ref.Pod, "aro-hcp", "debug", "asm-1-28"),
				workload(ref.Job, "aro-hcp", "migrate", "asm-1-28"))
			for _, ns := range cfg.Settings.Extensions.Namespaces {
				snap.Namespaces[ns] = observe.Namespace{Name: ns, Rev: "prod-stable"}
			}
			p := Build(Inputs{Config: cfg, Snapshot: snap})
			var deletes []string
			for _, s := range p.Steps {
				if s.Phase == PhaseRestarts && s.Action == ActionDelete {
					deletes = append(deletes, s.Target.String())
				}
			}
			wantDeletes, wantWarnings := 0, 2
			if allow {
				wantDeletes, wantWarnings = 1, 1
			}
			if len(deletes) != wantDeletes || len(p.Warnings) != wantWarnings {
				t.Errorf("deletes %v, warnings %v; want %d deletes and %d warnings", deletes, p.Warnings, wantDeletes, wantWarnings)
			}
			if allow && deletes[0] != "Pod/aro-hcp/debug" {
				t.Errorf("deleted %v, want the bare pod", deletes)
			}
		})
	}
}

// With deleteBarePods a bare pod on a revision that leaves versions is
// deleted by the plan, not a reason to block it (issue #17: one debug pod
// froze an upgrade); without it the plan blocks and names the pod.
func TestABarePodOnALeavingRevisionIsDeletedWhenAllowedInsteadOfBlocking(t *testing.T) {
	for _, allow := range []bool{false, true} {
		t.Run(fmt.Sprintf("deleteBarePods=%v", allow), func(t *testing.T) {
			cfg := loadExample(t)
			cfg.Settings.Extensions.Restart.DeleteBarePods = allow
			cfg.Istio.Versions = []mesh.Revision{cfg.Istio.Target}
			snap := snapshot("asm-1-29", workload(ref.Pod, "aro-hcp", "debug", "asm-1-28"))
			for _, ns := range cfg.Settings.Extensions.Namespaces {
				snap.Namespaces[ns] = observe.Namespace{Name: ns, Rev: "prod-stable"}
			}
			p := Build(Inputs{Config: cfg, Snapshot: snap})
			deleted := slices.ContainsFunc(p.Steps, func(s Step) bool { return s.Op == OpDeletePod && s.Target.String() == "Pod/aro-hcp/debug" })
			if allow && (p.Blocked || !deleted) {
				t.Errorf("blocked %v (%s), deletes the pod %v; want the pod deleted and no block", p.Blocked, p.Reason, deleted)
			}
			if !allow && (!p.Blocked || p.Scenario != ScenarioRevisionInUse || !strings.Contains(p.Reason, "Pod/aro-hcp/debug")) {
				t.Errorf("scenario %s blocked %v (%s); want blocked naming the pod", p.Scenario, p.Blocked, p.Reason)
			}
		})
	}
}

// A plan's headline never contradicts its warnings: "in sync" with a Job
// still on the old revision says that it is not all.
func TestAnInSyncHeadlineNamesWorkloadsItsWarningsList(t *testing.T) {
	cfg := loadExample(t)
	snap := snapshot("asm-1-29", workload(ref.Job, "aro-hcp", "migrate", "asm-1-28"))
	for _, ns := range cfg.Settings.Extensions.Namespaces {
		snap.Namespaces[ns] = observe.Namespace{Name: ns, Rev: "prod-stable"}
	}
	p := Build(Inputs{Config: cfg, Snapshot: snap})
	if len(p.Warnings) != 1 {
		t.Fatalf("warnings %v, want the Job", p.Warnings)
	}
	if p.Scenario == ScenarioInSync && !strings.Contains(p.Reason, "1 workload") {
		t.Errorf("headline %q says in sync without the workload its warning lists", p.Reason)
	}
}

// Namespaces the config needs but the cluster lacks block the plan with one
// message naming them all, instead of a dry-run error per object (#17).
func TestMissingNamespacesBlockThePlanInOneMessage(t *testing.T) {
	cfg := loadExample(t)
	snap := snapshot("asm-1-28")
	snap.Namespaces["aro-hcp"] = observe.Namespace{Name: "aro-hcp"}
	missing := MissingNamespaces(cfg, snap)
	if !slices.Contains(missing, "maestro") || !slices.Contains(missing, "clusters-service") || slices.Contains(missing, "aro-hcp") {
		t.Fatalf("missing %v; want maestro and clusters-service, not aro-hcp", missing)
	}
	p := Build(Inputs{Config: cfg, Snapshot: snap, MissingNamespaces: missing})
	if !p.Blocked || p.Scenario != ScenarioNamespacesMissing || !strings.Contains(p.Reason, "clusters-service, ") || strings.Count(p.Reason, "maestro") != 1 {
		t.Errorf("plan %s blocked %v: %s; want one message naming each missing namespace once", p.Scenario, p.Blocked, p.Reason)
	}
}

// Edits in the working tree on top of the applied commit are the user's
// changes, not drift, and the plan says what it was made from (#17: an
// uncommitted edit was classified as "changed by hand").
func TestUncommittedEditsAreChangesNotDrift(t *testing.T) {
	cfg := loadExample(t)
	snap := snapshot("asm-1-29", workload(ref.Deployment, "aro-hcp", "frontend", "asm-1-29"))
	for _, ns := range cfg.Settings.Extensions.Namespaces {
		snap.Namespaces[ns] = observe.Namespace{Name: ns, Rev: "prod-stable"}
	}
	objects := []ObjectChange{change(t, cfg, "AuthorizationPolicy/maestro/allow-cluster-service", ObjectUpdate)}
	for _, c := range []struct {
		uncommitted bool
		want        Scenario
		source      string
	}{{false, ScenarioDrift, "abc"}, {true, ScenarioPolicyOnly, "abc + uncommitted changes"}} {
		p := Build(Inputs{Config: cfg, Snapshot: snap, Objects: objects, Commit: "abc", LastApplied: "abc", Uncommitted: c.uncommitted})
		if p.Scenario != c.want || p.Source() != c.source {
			t.Errorf("uncommitted %v: scenario %s from %q, want %s from %q", c.uncommitted, p.Scenario, p.Source(), c.want, c.source)
		}
	}
}

// A restart step carries its workload's pods, and the plan the pods of
// every workload on the tag, moving or already on the target: what the
// executor's disruption budget counts and is a share of. Workloads off the
// tag are not the mesh this rollout moves.
func TestRestartStepsCarryTheirPodsAndThePlanTheMeshPods(t *testing.T) {
	cfg := loadExample(t)
	snap := snapshot("asm-1-28",
		workload(ref.Deployment, "aro-hcp", "frontend", "asm-1-28", "asm-1-28", "asm-1-28"),
		workload(ref.Deployment, "aro-hcp", "moved", "asm-1-29", "asm-1-29"),
		workload(ref.Deployment, "maestro", "maestro", "asm-1-28"),
		workload(ref.Deployment, "legacy", "pinned", "asm-1-28", "asm-1-28", "asm-1-28", "asm-1-28"),
	)
	for _, ns := range []string{"aro-hcp", "maestro"} {
		snap.Namespaces[ns] = observe.Namespace{Name: ns, Rev: "prod-stable"}
	}
	p := Build(Inputs{Config: cfg, Snapshot: snap})
	pods := map[string]int{}
	for _, s := range p.Steps {
		if s.Phase == PhaseRestarts {
			pods[s.Target.String()] = s.Pods
		}
	}
	want := map[string]int{"Deployment/aro-hcp/frontend": 3, "Deployment/maestro/maestro": 1}
	if !reflect.DeepEqual(pods, want) {
		t.Errorf("restart steps' pods = %v, want %v", pods, want)
	}
	if p.MeshPods != 6 {
		t.Errorf("mesh pods = %d, want 6 (3 + 1 restarting, 2 already on the target; not the 4 pinned off the tag)", p.MeshPods)
	}
}
