package plan

import (
	"strings"
	"testing"
	"time"

	"github.com/meshops/meshops/mesh"
	"github.com/meshops/meshops/observe"
	"github.com/meshops/meshops/ref"
	"github.com/meshops/meshops/revisions"
)

const clusterID = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/svc-1"

// How each revision decision shows in the plan, for the aks provider: the
// revision change before the gate (which then waits for the new istiod),
// the complete step after verify, the provider's refusals as blocked plans.
func TestBuildWithTheAKSProvider(t *testing.T) {
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	rev := func(name string) mesh.Revision {
		r, err := mesh.DefaultPattern().Parse(name)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	cases := []struct {
		name string
		// snap: where the tag is and which revisions run; nil control
		// plane for asm-1-29 when it is not installed yet.
		tagRev       string
		targetAbsent bool
		decision     revisions.Decision
		desired      revisions.Desired
		wantScenario Scenario
		wantBlocked  bool
		// wantSteps are the phase/op pairs of the revision-related steps,
		// in order.
		wantSteps []string
		warning   string
	}{
		{name: "a canary start comes after the mesh config and before the gate, which waits for the new istiod",
			tagRev: "asm-1-28", targetAbsent: true,
			decision:     revisions.Decision{Kind: revisions.KindCanaryStart, Revisions: []string{"asm-1-28", "asm-1-29"}, Reason: "start"},
			desired:      revisions.Desired{Shape: revisions.ShapeList},
			wantScenario: ScenarioUpgrade,
			wantSteps:    []string{"mesh-config/apply", "revision/set-revisions", "gate/gate", "tag/set-tag", "restarts/restart", "verify/verify"}},
		{name: "a canary for a single desired revision is completed by the same run after verify",
			tagRev: "asm-1-28", targetAbsent: true,
			decision:     revisions.Decision{Kind: revisions.KindCanaryStart, Revisions: []string{"asm-1-28", "asm-1-29"}, Reason: "start"},
			desired:      revisions.Desired{Shape: revisions.ShapeSingle, Now: now},
			wantScenario: ScenarioUpgrade,
			wantSteps:    []string{"mesh-config/apply", "revision/set-revisions", "gate/gate", "tag/set-tag", "restarts/restart", "verify/verify", "complete/complete-revisions"}},
		{name: "a canary with a soak starts now and is completed by a later run",
			tagRev: "asm-1-28", targetAbsent: true,
			decision:     revisions.Decision{Kind: revisions.KindCanaryStart, Revisions: []string{"asm-1-28", "asm-1-29"}, Reason: "start"},
			desired:      revisions.Desired{Shape: revisions.ShapeSingle, CompleteAfter: time.Hour, Now: now},
			wantScenario: ScenarioUpgrade,
			wantSteps:    []string{"mesh-config/apply", "revision/set-revisions", "gate/gate", "tag/set-tag", "restarts/restart", "verify/verify"},
			warning:      "1h0m0s left"},
		{name: "an install on a cluster without a mesh is a fresh install",
			targetAbsent: true,
			decision:     revisions.Decision{Kind: revisions.KindInstall, Revisions: []string{"asm-1-29"}, Reason: "install"},
			wantScenario: ScenarioFreshInstall,
			wantSteps:    []string{"mesh-config/apply", "revision/set-revisions", "gate/gate", "tag/set-tag", "restarts/restart", "verify/verify"}},
		{name: "a running operation is followed, not raced",
			tagRev: "asm-1-28", targetAbsent: true,
			decision: revisions.Decision{Kind: revisions.KindResume, Reason: "running",
				Operation: &revisions.Operation{Kind: revisions.KindCanaryStart, Revisions: []string{"asm-1-28", "asm-1-29"}, ResumeToken: "t"}},
			wantScenario: ScenarioUpgrade,
			wantSteps:    []string{"mesh-config/apply", "revision/set-revisions", "gate/gate", "tag/set-tag", "restarts/restart", "verify/verify"}},
		{name: "a resumed canary for a single desired revision is completed by the run that resumes it",
			tagRev: "asm-1-28", targetAbsent: true,
			decision: revisions.Decision{Kind: revisions.KindResume, Reason: "running",
				Operation: &revisions.Operation{Kind: revisions.KindCanaryStart, Revisions: []string{"asm-1-28", "asm-1-29"}, ResumeToken: "t"}},
			desired:      revisions.Desired{Shape: revisions.ShapeSingle, Now: now},
			wantScenario: ScenarioUpgrade,
			wantSteps:    []string{"mesh-config/apply", "revision/set-revisions", "gate/gate", "tag/set-tag", "restarts/restart", "verify/verify", "complete/complete-revisions"}},
		{name: "a canary to complete after the rollout gets verify and then the complete step",
			tagRev:       "asm-1-29",
			decision:     revisions.Decision{Kind: revisions.KindNone, Next: revisions.KindComplete, Revisions: []string{"asm-1-29"}, Reason: "complete after verify"},
			wantScenario: ScenarioCompleteCanary,
			wantSteps:    []string{"gate/gate", "verify/verify", "complete/complete-revisions"}},
		{name: "a canary whose soak is not over is left for a later run, with a warning",
			tagRev:       "asm-1-29",
			decision:     revisions.Decision{Kind: revisions.KindNone, Next: revisions.KindComplete, Revisions: []string{"asm-1-29"}, Reason: "complete after verify"},
			desired:      revisions.Desired{CompleteAfter: time.Hour, CanaryStarted: now.Add(-20 * time.Minute), Now: now},
			wantScenario: ScenarioInSync,
			wantSteps:    []string{"gate/gate"},
			warning:      "40m0s left"},
		{name: "a decision that needs a person blocks the plan with its reason",
			tagRev:       "asm-1-28",
			decision:     revisions.Decision{Kind: revisions.KindBlocked, Reason: "asm-1-31 is not an available upgrade of asm-1-28"},
			wantScenario: ScenarioRevisionsBlocked, wantBlocked: true,
			wantSteps: []string{"gate/gate"}},
		{name: "another operation on the cluster blocks until it is over",
			tagRev:       "asm-1-28",
			decision:     revisions.Decision{Kind: revisions.KindWait, Reason: "provisioning state Updating"},
			wantScenario: ScenarioRevisionsBusy, wantBlocked: true,
			wantSteps: []string{"gate/gate"}},
		{name: "without a change to make the plan has no revision step",
			tagRev:       "asm-1-29",
			decision:     revisions.Decision{Kind: revisions.KindNone, Reason: "nothing to do"},
			wantScenario: ScenarioInSync,
			wantSteps:    []string{"gate/gate"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := loadExample(t)
			onRev := c.tagRev
			if onRev == "" {
				onRev = "asm-1-28"
			}
			snap := snapshot(c.tagRev, workload(ref.Deployment, "aro-hcp", "frontend", onRev))
			for _, ns := range cfg.Settings.Extensions.Namespaces {
				snap.Namespaces[ns] = observe.Namespace{Name: ns, Rev: "prod-stable"}
			}
			if c.targetAbsent {
				delete(snap.ControlPlanes, "asm-1-29")
			}
			d := c.desired
			d.Target = rev("asm-1-29")
			in := Inputs{Config: cfg, Snapshot: snap, Commit: "c1", LastApplied: "c1",
				Revisions: &Revisions{State: revisions.State{Cluster: clusterID}, Desired: d, Decision: c.decision}}
			if c.targetAbsent {
				// A new revision comes with its mesh config.
				in.LastApplied = "c0"
				in.Objects = []ObjectChange{change(t, cfg, "ConfigMap/aks-istio-system/istio-shared-configmap-asm-1-29", ObjectCreate)}
			}
			p := Build(in)
			if p.Scenario != c.wantScenario || p.Blocked != c.wantBlocked {
				t.Fatalf("scenario %q blocked %v (%s), want %q blocked %v", p.Scenario, p.Blocked, p.Reason, c.wantScenario, c.wantBlocked)
			}
			var got []string
			for _, s := range p.Steps {
				if s.Op == OpValidate || s.Op == OpAnnotate || s.Phase == PhasePolicies || s.Phase == PhaseNamespaces {
					continue
				}
				got = append(got, string(s.Phase)+"/"+string(s.Op))
				if s.Op == OpSetRevisions && (s.Target.String() != "ManagedCluster/svc-1" || s.RevisionKind != c.decision.Kind) {
					t.Errorf("revision step %+v: want ManagedCluster/svc-1 and kind %s", s, c.decision.Kind)
				}
				if s.Op == OpCompleteRevisions && (!strings.Contains(s.Reason, "complete [asm-1-29]") || strings.Contains(s.Reason, "start")) {
					t.Errorf("complete step says %q; want what it keeps and removes", s.Reason)
				}
				if s.Op == OpGate && c.targetAbsent && !strings.Contains(s.Reason, "wait for istiod-asm-1-29 after the revision change") {
					t.Errorf("gate after a revision change does not say it waits: %s", s.Reason)
				}
			}
			if strings.Join(got, " ") != strings.Join(c.wantSteps, " ") {
				t.Errorf("steps:\n got %v\nwant %v", got, c.wantSteps)
			}
			if c.warning != "" && !strings.Contains(strings.Join(p.Warnings, "\n"), c.warning) {
				t.Errorf("warnings %v lack %q", p.Warnings, c.warning)
			}
		})
	}
}
