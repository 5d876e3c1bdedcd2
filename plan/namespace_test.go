package plan

import (
	"slices"
	"testing"

	"github.com/meshops/meshops/ref"
)

// -n keeps the steps in one namespace: its objects, its workloads' restarts
// and its own label; nothing cluster-wide, nothing of another namespace.
func TestInNamespaceKeepsOnlyTheStepsInThatNamespace(t *testing.T) {
	p := &Plan{Scenario: ScenarioUpgrade, Steps: []Step{
		{Phase: PhaseValidate, Target: ConfigTarget()},
		{Phase: PhasePolicies, Target: ObjectTarget(ref.Object{Kind: "AuthorizationPolicy", Namespace: "maestro", Name: "deny"})},
		{Phase: PhasePolicies, Target: ObjectTarget(ref.Object{Kind: "AuthorizationPolicy", Namespace: "aro-hcp", Name: "deny"})},
		{Phase: PhaseNamespaces, Target: NamespaceTarget("maestro")},
		{Phase: PhaseTag, Target: TagTarget("prod-stable", ref.Object{Kind: "MutatingWebhookConfiguration", Name: "istio-revision-tag-prod-stable"})},
		{Phase: PhaseRestarts, Target: WorkloadTarget(ref.Workload{Kind: ref.Deployment, Namespace: "maestro", Name: "api"})},
		{Phase: PhaseRestarts, Target: WorkloadTarget(ref.Workload{Kind: ref.Deployment, Namespace: "aro-hcp", Name: "api"})},
		{Phase: PhaseVerify, Target: MeshTarget()},
	}}
	for _, tc := range []struct {
		ns   string
		want []string
	}{
		{"maestro", []string{"AuthorizationPolicy/maestro/deny", "Namespace/maestro", "Deployment/maestro/api"}},
		{"aro-hcp", []string{"AuthorizationPolicy/aro-hcp/deny", "Deployment/aro-hcp/api"}},
		{"elsewhere", nil},
	} {
		t.Run(tc.ns, func(t *testing.T) {
			q := p.InNamespace(tc.ns)
			var got []string
			for _, s := range q.Steps {
				got = append(got, s.Target.String())
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("steps %q, want %q", got, tc.want)
			}
			if q.Scenario != p.Scenario || len(p.Steps) != 8 {
				t.Error("the filter changed the plan it was given or lost its scenario")
			}
		})
	}
}
