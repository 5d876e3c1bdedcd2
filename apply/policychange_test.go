package apply_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/meshops/meshops/apply"
	"github.com/meshops/meshops/plan"
)

// A policy changed in git, again and again: every change applies (meshops
// never conflicts with its own earlier writes) and each is reported as what
// happened to the object.
func TestSuccessiveGitChangesToOnePolicyEachApplyAndAreReportedUpdated(t *testing.T) {
	ctx := context.Background()
	f := newMesh(t, 1)
	ns := f.namespaces[0]
	f.onTag("asm-1-28")
	policy := func(sa string) string {
		return fmt.Sprintf(`apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: allow-cluster-service, namespace: %s}
spec:
  action: ALLOW
  rules:
  - from:
    - source: {principals: ["cluster.local/ns/%s/sa/%s"]}
`, ns, ns, sa)
	}
	for i, sa := range []string{"first", "second", "third", "fourth"} {
		f.writeRepo("asm-1-28", policy(sa))
		var got []string
		_, res, err := f.sync(ctx, fmt.Sprintf("c%d", i), func(o *apply.Options) {
			o.Progress = func(ev apply.Event) {
				if ev.Status == apply.StepDone && ev.Step.Op == plan.OpApply && ev.Step.Target.Object.Name == "allow-cluster-service" {
					got = append(got, ev.Message)
				}
			}
		})
		if err != nil {
			t.Fatalf("git change %d (%s): %v", i+1, sa, err)
		}
		want := "updated"
		if i == 0 {
			want = "created"
		}
		if len(got) != 1 || got[0] != want || res.Applied < 1 {
			t.Errorf("git change %d (%s): reported %v (applied %d), want [%s]", i+1, sa, got, res.Applied, want)
		}
	}
}
