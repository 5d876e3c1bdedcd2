package apply_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/meshops/meshops/apply"
	"github.com/meshops/meshops/plan"
	"github.com/meshops/meshops/state"
)

// Without any lock, two executors that decided at the same moment still
// restart each workload once: the restart is a compare-and-swap on the
// workload's resourceVersion.
func TestTwoExecutorsStartedTogetherRestartEveryWorkloadExactlyOnce(t *testing.T) {
	ctx := context.Background()
	f := newMesh(t, 2)
	f.writeRepo("asm-1-29")
	f.onTag("asm-1-28")
	ids := f.deployments(3, "asm-1-28")
	cfg := f.config()
	first, second := f.plan(cfg, "c1"), f.plan(cfg, "c1")

	var wg sync.WaitGroup
	results := make([]*apply.Result, 2)
	errs := make([]error, 2)
	for i, p := range []*plan.Plan{first, second} {
		wg.Go(func() {
			opts := apply.NewOptions(cfg)
			opts.PollInterval = 100 * time.Millisecond
			ex := &apply.Executor{Cluster: f.cluster, Store: f.store, Options: opts}
			results[i], errs[i] = ex.Execute(ctx, p, cfg)
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("executor %d: %v", i, err)
		}
	}
	if n := results[0].Restarted + results[1].Restarted; n != len(ids) {
		t.Errorf("the two executors counted %d restarts (%d + %d) of %d workloads; want each once",
			n, results[0].Restarted, results[1].Restarted, len(ids))
	}
	for _, id := range ids {
		ns, name := splitID(id)
		if n := replicaSets(t, ns, name); n != 2 {
			t.Errorf("%s has %d ReplicaSets, want 2: restarted %d times", id, n, n-1)
		}
	}
	f.waitRevision(ids, "asm-1-29")
}

// Suspend means stop: a person's meshops suspend during the restarts
// stops the rollout within one workload, leaves every workload either
// fully on the target or untouched, the tag on the healthy target, and
// the record saying where it stopped and why. Nothing is rolled back.
func TestSuspendDuringTheRestartsStopsTheRolloutWithinOneWorkload(t *testing.T) {
	ctx := context.Background()
	f := newMesh(t, 2)
	f.writeRepo("asm-1-29")
	f.onTag("asm-1-28")
	ids := f.deployments(3, "asm-1-28")
	var once sync.Once
	f.intercept(interceptor.Funcs{
		Patch: func(ctx context.Context, c client.WithWatch, obj client.Object, patch client.Patch, opts ...client.PatchOption) error {
			err := c.Patch(ctx, obj, patch, opts...)
			// The first restart of the rollout: suspend while it rolls.
			if _, isDeployment := obj.(*appsv1.Deployment); isDeployment && err == nil {
				once.Do(func() {
					if _, uerr := f.store.Update(ctx, func(r *state.Record) { r.Suspended = true }); uerr != nil {
						t.Error(uerr)
					}
				})
			}
			return err
		},
	})
	_, res, err := f.sync(ctx, "c1", func(o *apply.Options) { o.Restart.BatchSize = 1 })
	var suspended *apply.SuspendedError
	if !errors.As(err, &suspended) {
		t.Fatalf("sync suspended mid-rollout returned %v, want a SuspendedError", err)
	}
	if res.Restarted != 1 || res.RolledBack {
		t.Errorf("result %+v: want exactly the one restart under way when suspended, and no rollback", res)
	}
	if got := f.tagRevision(); got != "asm-1-29" {
		t.Errorf("tag on %s after a suspend, want it left on the healthy target asm-1-29", got)
	}
	moved := 0
	for _, id := range ids {
		ns, name := splitID(id)
		switch revs := f.revisions(ns, name); {
		case len(revs) == 1 && revs[0] == "asm-1-29":
			moved++
		case len(revs) == 1 && revs[0] == "asm-1-28":
		default:
			t.Errorf("%s left half-way: %v", id, revs)
		}
	}
	if moved != 1 {
		t.Errorf("%d workloads moved, want the 1 under way when suspended", moved)
	}
	rec, err := f.store.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rec.LastResult != state.ResultSuspended || rec.Progress == nil || !rec.Progress.Finished.IsZero() || len(rec.Progress.Restarted) != 1 {
		t.Errorf("record %+v: want result suspended, the progress open with the one moved workload", rec)
	}
	t.Logf("suspended after %d of %d restarts: %s", suspended.Started, suspended.Total, suspended)
}

// splitID splits a test's Deployment/namespace/name id.
func splitID(id string) (ns, name string) {
	parts := strings.SplitN(id, "/", 3)
	return parts[1], parts[2]
}

// The target is watched while workloads restart onto it: when it turns
// unhealthy mid-rollout no further restart starts, and the rollback
// begins at the next check, not after a workload's timeout.
func TestATargetThatTurnsUnhealthyMidRolloutStopsTheRestartsAndRollsBack(t *testing.T) {
	ctx := context.Background()
	f := newMesh(t, 2)
	f.writeRepo("asm-1-29")
	f.onTag("asm-1-28")
	ids := f.deployments(3, "asm-1-28")
	t.Cleanup(func() { restoreRevision(t, "asm-1-29") })
	var once sync.Once
	var brokenAt time.Time
	f.intercept(interceptor.Funcs{
		Patch: func(ctx context.Context, c client.WithWatch, obj client.Object, patch client.Patch, opts ...client.PatchOption) error {
			err := c.Patch(ctx, obj, patch, opts...)
			if _, isDeployment := obj.(*appsv1.Deployment); isDeployment && err == nil && obj.GetNamespace() != "aks-istio-system" {
				once.Do(func() {
					brokenAt = time.Now()
					if err := env.MakeRevisionUnhealthy(ctx, "asm-1-29"); err != nil {
						t.Error(err)
					}
				})
			}
			return err
		},
	})
	_, res, err := f.sync(ctx, "c1", func(o *apply.Options) {
		o.Restart.BatchSize = 1
		o.Restart.WorkloadTimeout = 10 * time.Minute
		o.TargetCheckInterval = time.Second
	})
	stopped := time.Since(brokenAt)
	var unhealthy *apply.TargetUnhealthyError
	if !errors.As(err, &unhealthy) || unhealthy.Revision != "asm-1-29" {
		t.Fatalf("sync returned %v, want a TargetUnhealthyError for asm-1-29", err)
	}
	if !res.RolledBack || res.Restarted >= len(ids) {
		t.Errorf("result %+v: want a rollback before every workload restarted", res)
	}
	if got := f.tagRevision(); got != "asm-1-28" {
		t.Errorf("tag on %s after the rollback, want asm-1-28", got)
	}
	f.waitRevision(ids, "asm-1-28")
	t.Logf("target made unhealthy after the first restart; restarts stopped and rolled back %s later (%d of %d restarted first)",
		stopped.Round(100*time.Millisecond), res.Restarted, len(ids))
}
