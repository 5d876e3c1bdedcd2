package apply_test

import (
	"context"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/meshops/meshops/apply"
)

// kube-apiserver restarted in the middle of the restarts (same port, same
// etcd): meshops' calls are retried until it is back, so the same run
// converges, with no workload restarted twice.
func TestAnAPIServerRestartMidRolloutConvergesWithoutADoubleRestart(t *testing.T) {
	ctx := context.Background()
	f := newMesh(t, 2)
	f.writeRepo("asm-1-29")
	f.onTag("asm-1-28")
	ids := f.deployments(3, "asm-1-28")
	var once sync.Once
	restarted := make(chan error, 1)
	var down time.Time
	f.intercept(interceptor.Funcs{
		Patch: func(ctx context.Context, c client.WithWatch, obj client.Object, patch client.Patch, opts ...client.PatchOption) error {
			err := c.Patch(ctx, obj, patch, opts...)
			if _, isDeployment := obj.(*appsv1.Deployment); isDeployment && err == nil {
				once.Do(func() {
					down = time.Now()
					go func() { restarted <- env.Cluster.RestartAPIServer(context.Background(), 2*time.Second) }()
				})
			}
			return err
		},
	})
	_, res, err := f.sync(ctx, "c1", func(o *apply.Options) { o.Restart.BatchSize = 1 })
	if rerr := <-restarted; rerr != nil {
		t.Fatalf("restarting kube-apiserver: %v", rerr)
	}
	if err != nil || res.RolledBack {
		t.Fatalf("the run during the API server restart: %v (rolled back: %v); want it to ride the restart out", err, res.RolledBack)
	}
	t.Logf("kube-apiserver down for 2s after the first restart; the run went on and converged %s after it went down, %d restarts",
		time.Since(down).Round(100*time.Millisecond), res.Restarted)
	f.waitRevision(ids, "asm-1-29")
	for _, id := range ids {
		ns, name := splitID(id)
		if n := replicaSets(t, ns, name); n != 2 {
			t.Errorf("%s has %d ReplicaSets, want 2: restarted %d times", id, n, n-1)
		}
	}
}
