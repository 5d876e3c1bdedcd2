package apply_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/meshops/meshops/apply"
	"github.com/meshops/meshops/plan"
	"github.com/meshops/meshops/test/e2e"
)

// breakOnRevision makes one Deployment's pods never turn ready whenever a
// restart moves it to rev (e2e.BreakOnRevision).
func breakOnRevision(f *meshFixture, namespace, name, rev string) {
	f.t.Helper()
	f.intercept(e2e.BreakOnRevision(namespace, name, rev))
}

// A workload that does not come up on the target stops the rollout: no
// workload after it restarts, the error names it, and auto-rollback
// returns the tag and every workload already moved to the previous
// revision. The revision is then remembered as bad at this commit.
func TestFailingWorkloadStopsRolloutAndAutoRollbackReturnsTagAndMovedWorkloads(t *testing.T) {
	ctx := context.Background()
	f := newMesh(t, 2)
	f.writeRepo("asm-1-29")
	f.onTag("asm-1-28")
	ids := f.deployments(2, "asm-1-28")
	// Restarts go one at a time in namespace order; the second of the first
	// namespace breaks, so exactly one workload moved before it.
	broken := ids[1]
	breakOnRevision(f, f.namespaces[0], "app-1", "asm-1-29")
	before := templates(t, ids[2:])

	p, res, err := f.sync(ctx, "c1", func(o *apply.Options) {
		o.Restart.BatchSize = 1
		o.Restart.WorkloadTimeout = 8 * time.Second
	})
	if err == nil {
		t.Fatal("sync succeeded although a workload never became ready")
	}
	msg := err.Error()
	for _, want := range []string{broken, "did not roll out onto asm-1-29", "rolled back: tag " + f.tag + " returned to asm-1-28", "restarted back: " + broken + ", " + ids[0]} {
		if !strings.Contains(msg, want) {
			t.Errorf("error does not say %q:\n%s", want, msg)
		}
	}
	// The workload's own timeout, not a context error the CLI would read
	// as the API server's (found by make demo: "timeout: the API server
	// did not answer within --request-timeout").
	if errors.Is(err, context.DeadlineExceeded) || strings.Contains(msg, "context deadline exceeded") {
		t.Errorf("the workload's timeout reads as a request timeout:\n%s", msg)
	}
	if p.Scenario != plan.ScenarioUpgrade || !res.RolledBack {
		t.Errorf("scenario %s, result %+v; want an upgrade that rolled back", p.Scenario, res)
	}
	if got := f.tagRevision(); got != "asm-1-28" {
		t.Errorf("tag on %s after the rollback, want asm-1-28", got)
	}
	f.waitRevision(ids, "asm-1-28")
	if after := templates(t, ids[2:]); !equal(before, after) {
		t.Errorf("workloads after the failing one were restarted: %v → %v", before, after)
	}

	rec, err := f.store.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if bad, ok := rec.BadRevisions["asm-1-29"]; !ok || bad.Commit != "c1" || !strings.Contains(bad.Error, broken) {
		t.Errorf("bad revisions = %+v, want asm-1-29 at c1 naming %s", rec.BadRevisions, broken)
	}
	// The next scheduled run at the same commit must not try again.
	if again := f.plan(f.config(), "c1"); !again.Blocked || again.Scenario != plan.ScenarioBadRevision {
		t.Errorf("plan at the same commit after the rollback: %s (%s); want blocked as a bad revision", again.Scenario, again.Reason)
	}
}
