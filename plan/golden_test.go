package plan

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/meshops/meshops/configs"
	"github.com/meshops/meshops/observe"
	"github.com/meshops/meshops/ref"
	"github.com/meshops/meshops/test/fixtures"
	"github.com/meshops/meshops/test/golden"
)

// The ARO HCP upgrade asm-1-28 → asm-1-29: the tag on asm-1-28, two
// workloads each in aro-hcp, clusters-service and maestro on it, and every
// manifest of the fixtures still to create.
func aroHCPUpgradePlan(t *testing.T) *Plan {
	t.Helper()
	opts := configs.DefaultOptions()
	opts.RepoPath = fixtures.AROHCPRepo(t)
	cfg, err := configs.Load(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	snap := snapshot("asm-1-28",
		workload(ref.Deployment, "aro-hcp", "aro-hcp-frontend", "asm-1-28", "asm-1-28"),
		workload(ref.Deployment, "aro-hcp", "aro-hcp-backend", "asm-1-28"),
		workload(ref.Deployment, "clusters-service", "clusters-service", "asm-1-28", "asm-1-28"),
		workload(ref.Deployment, "clusters-service", "ocm-backend", "asm-1-28"),
		workload(ref.Deployment, "maestro", "maestro", "asm-1-28"),
		workload(ref.StatefulSet, "maestro", "maestro-db", "asm-1-28"),
	)
	for _, ns := range []string{"aro-hcp", "clusters-service", "maestro"} {
		snap.Namespaces[ns] = observe.Namespace{Name: ns, Rev: "prod-stable"}
	}
	snap.Ingress = &observe.Ingress{Namespace: "aks-istio-ingress", Name: "aks-istio-ingressgateway-external", Address: "20.61.0.10"}
	var objects []ObjectChange
	for _, m := range cfg.Manifests {
		diff, err := unifiedDiff(m.ID(), nil, m.Unstructured())
		if err != nil {
			t.Fatal(err)
		}
		objects = append(objects, ObjectChange{Manifest: m, Action: ObjectCreate, Diff: diff})
	}
	return Build(Inputs{Config: cfg, Snapshot: snap, Objects: objects, Commit: "c3f02f9ef9f1"})
}

func TestGoldenPlansOfTheAROHCPUpgrade(t *testing.T) {
	p := aroHCPUpgradePlan(t)
	if p.Scenario != ScenarioUpgrade {
		t.Fatalf("scenario %q, want upgrade", p.Scenario)
	}
	text, md, js := renderAll(t, p)
	golden.Check(t, "aro-hcp-upgrade.txt", text.Bytes())
	golden.Check(t, "aro-hcp-upgrade.md", md.Bytes())
	golden.Check(t, "aro-hcp-upgrade.json", js.Bytes())
	if strings.Count(md.String(), "<details>") != strings.Count(md.String(), "</details>") {
		t.Error("unbalanced <details> in the Markdown plan")
	}
}

func TestGoldenMarkdownOfABlockedPlan(t *testing.T) {
	p := aroHCPUpgradePlan(t)
	blocked := *p
	blocked.Blocked, blocked.Scenario = true, ScenarioTargetUnhealthy
	blocked.Reason = "target revision is unhealthy: istiod-asm-1-29: 0 ready and 0 available of 2 replicas (at least 1 needed)"
	blocked.Steps = p.Steps[:1]
	blocked.Steps = append(blocked.Steps, Step{Phase: PhaseGate, Action: ActionCheck, Op: OpGate, Target: RevisionTarget("asm-1-29"), Reason: "BLOCKED: " + blocked.Reason})
	var md bytes.Buffer
	if err := RenderMarkdown(&md, &blocked, MarkdownOptions{}); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(md.String(), "### :no_entry: Blocked") {
		t.Errorf("a blocked plan must say so first:\n%s", md.String())
	}
	golden.Check(t, "blocked.md", md.Bytes())
}

func TestMarkdownTooLongForACommentDropsDiffsWithANote(t *testing.T) {
	p := aroHCPUpgradePlan(t)
	var full, cut bytes.Buffer
	if err := RenderMarkdown(&full, p, MarkdownOptions{MaxBytes: 1 << 20}); err != nil {
		t.Fatal(err)
	}
	if err := RenderMarkdown(&cut, p, MarkdownOptions{MaxBytes: full.Len() - 1, FullPlanHint: "the plan artifact"}); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(cut.String(), "```diff") || !strings.Contains(cut.String(), "see the plan artifact for the full plan") {
		t.Errorf("cut plan must drop diffs and say where the full plan is:\n%s", cut.String())
	}
	if !strings.Contains(cut.String(), "| policies |") {
		t.Error("cut plan lost its summary table")
	}
}

// renderAll renders a plan as text with diffs, Markdown and JSON, with
// the default options.
func renderAll(t *testing.T, p *Plan) (text, md, js bytes.Buffer) {
	t.Helper()
	if err := RenderText(&text, p, TextOptions{Diffs: true}); err != nil {
		t.Fatal(err)
	}
	if err := RenderMarkdown(&md, p, MarkdownOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := RenderJSON(&js, p); err != nil {
		t.Fatal(err)
	}
	return text, md, js
}
