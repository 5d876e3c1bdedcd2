package apply_test

import (
	"context"
	"sync/atomic"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/meshops/meshops/plan"
)

// Where meshops may not watch (RBAC without the verb), the plan lists
// instead of streaming, the restart phase's shared watches are refused
// and each restart waits by polling; the upgrade still moves every
// workload.
func TestUpgradeWithoutWatchPermissionPollsAndMovesEveryWorkload(t *testing.T) {
	ctx := context.Background()
	f := newMesh(t, 2)
	f.writeRepo("asm-1-29")
	f.onTag("asm-1-28")
	ids := f.deployments(2, "asm-1-28")
	var refused atomic.Int32
	f.intercept(interceptor.Funcs{
		Watch: func(ctx context.Context, c client.WithWatch, list client.ObjectList, opts ...client.ListOption) (watch.Interface, error) {
			refused.Add(1)
			return nil, apierrors.NewForbidden(schema.GroupResource{Resource: "deployments"}, "", nil)
		},
	})

	p, res, err := f.sync(ctx, "c1", nil)
	if err != nil {
		t.Fatalf("sync: %v", err)
	}
	if p.Scenario != plan.ScenarioUpgrade || res.Restarted != len(ids) {
		t.Errorf("scenario %s, result %+v; want an upgrade restarting %d", p.Scenario, res, len(ids))
	}
	f.waitRevision(ids, "asm-1-29")
	// The plan's streams (pods, owners, policies) and the restart phase's
	// shared watches asked to watch, and were refused.
	if n := int(refused.Load()); n < 2*len(ids) {
		t.Errorf("%d watches refused; want the plan's streams and the restart phase's watches to have tried", n)
	}
}
