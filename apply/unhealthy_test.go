package apply_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/meshops/meshops/apply"
	"github.com/meshops/meshops/test/e2e"
)

// A workload already broken before the upgrade is named in the plan,
// restarted last, and when it does not come up on the target either, that
// is reported: the healthy workloads move, nothing is rolled back, and the
// target is not recorded as a bad revision (issue #17: six healthy
// workloads were rolled back and asm-1-29 marked bad).
func TestAWorkloadBrokenBeforeTheUpgradeIsReportedNotHeldAgainstTheTarget(t *testing.T) {
	ctx := context.Background()
	f := newMesh(t, 1)
	ns := f.namespaces[0]
	f.writeRepo("asm-1-29")
	f.onTag("asm-1-28")
	ids := f.deployments(2, "asm-1-28")
	env.CreateDeployment(t, ns, "broken", e2e.DeploymentOptions{Replicas: 1, NeverReady: true})
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(200 * time.Millisecond) {
		if revs := f.revisions(ns, "broken"); len(revs) == 1 && revs[0] == "asm-1-28" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the broken workload's pod never came up injected")
		}
	}

	cfg := f.config()
	p := f.plan(cfg, "c1")
	last := p.Steps[0]
	for _, s := range p.Steps {
		if s.Target.Workload != nil {
			last = s
		}
	}
	if !last.UnhealthyBefore || last.Target.Workload.Name != "broken" || !strings.Contains(strings.Join(p.Warnings, "\n"), "broken") {
		t.Fatalf("plan: the last restart is %s (unhealthy before: %v), warnings %v; want the broken workload last, named", last.Target, last.UnhealthyBefore, p.Warnings)
	}

	_, res, err := f.sync(ctx, "c1", func(o *apply.Options) { o.Restart.WorkloadTimeout = 5 * time.Second })
	var unhealthy *apply.UnhealthyBeforeError
	if !errors.As(err, &unhealthy) || len(unhealthy.Workloads) != 1 || unhealthy.Workloads[0].Name != "broken" {
		t.Fatalf("sync: %v; want the broken workload reported", err)
	}
	if res.RolledBack || res.Restarted != len(ids) {
		t.Errorf("result %+v: want the %d healthy workloads moved and no rollback", res, len(ids))
	}
	f.waitRevision(ids, "asm-1-29")
	if got := f.tagRevision(); got != "asm-1-29" {
		t.Errorf("tag on %s, want asm-1-29", got)
	}
	rec, err := f.store.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, bad := rec.BadRevisions["asm-1-29"]; bad {
		t.Errorf("asm-1-29 recorded as a bad revision because of a workload broken before: %+v", rec.BadRevisions)
	}
}
