package apply_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"

	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/meshops/meshops/plan"
)

// killAfter cancels the run right after the n-th write matching what the
// test names went through: the process dies with the change made and
// nothing after it, as a kill -9 would leave it.
func killAfter(f *meshFixture, cancel context.CancelFunc, match func(obj client.Object, patch client.Patch) bool, n int32) {
	f.t.Helper()
	var seen atomic.Int32
	f.intercept(interceptor.Funcs{
		Patch: func(ctx context.Context, c client.WithWatch, obj client.Object, patch client.Patch, opts ...client.PatchOption) error {
			err := c.Patch(ctx, obj, patch, opts...)
			if err == nil && match(obj, patch) && seen.Add(1) == n {
				cancel()
			}
			return err
		},
	})
}

func isRestart(obj client.Object, patch client.Patch) bool {
	return strings.HasPrefix(obj.GetName(), "app-") && patch.Type() == "application/merge-patch+json"
}

func isTagMove(obj client.Object, _ client.Patch) bool {
	return strings.HasPrefix(obj.GetName(), "istio-revision-tag-")
}

// A run killed at any point, then run again, converges: every workload
// ends on the target, restarted exactly once (one new ReplicaSet each),
// and a third run has nothing to do.
func TestKilledSyncResumesWithoutRestartingAnyWorkloadTwice(t *testing.T) {
	for _, kill := range []struct {
		name  string
		match func(client.Object, client.Patch) bool
		n     int32
	}{
		{"right after the tag moved", isTagMove, 1},
		{"right after the first restart was stamped", isRestart, 1},
		{"right after the third restart was stamped", isRestart, 3},
	} {
		t.Run(kill.name, func(t *testing.T) {
			f := newMesh(t, 2)
			f.writeRepo("asm-1-29")
			f.onTag("asm-1-28")
			ids := f.deployments(2, "asm-1-28")

			ctx, cancel := context.WithCancel(context.Background())
			killAfter(f, cancel, kill.match, kill.n)
			_, _, err := f.sync(ctx, "c1", nil)
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("killed sync: %v; want it cancelled", err)
			}

			p, res, err := f.sync(context.Background(), "c1", nil)
			if err != nil {
				t.Fatalf("sync after the kill: %v", err)
			}
			if p.Scenario == plan.ScenarioInSync || res.RolledBack {
				t.Errorf("second run: %s, %+v; want it to finish the rollout", p.Scenario, res)
			}
			f.waitRevision(ids, "asm-1-29")
			for _, id := range ids {
				parts := strings.Split(id, "/")
				if n := replicaSets(t, parts[1], parts[2]); n != 2 {
					t.Errorf("%s has %d ReplicaSets, want 2 (created, restarted once)", id, n)
				}
			}
			if p, _, err := f.sync(context.Background(), "c1", nil); err != nil || p.Pending() {
				t.Errorf("third run: pending %v, %v; want in sync", p.Pending(), err)
			}
		})
	}
}
