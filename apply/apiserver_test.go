package apply_test

import (
	"context"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/meshops/meshops/apply"
	"github.com/meshops/meshops/test/controlplane"
)

// kube-apiserver restarted in the middle of the restarts (same port, same
// etcd): meshops' calls are retried until it is back, and the mesh
// converges in that run or the next, with no workload restarted twice.
//
// kwok, the fake kubelet, may re-run its pod stages after it reconnects
// and leave pods it had made ready unready: no real kubelet does that, so
// the target watch is off here (its own test is elsewhere), and the
// control plane's pods are replaced before a second run and after the test.
func TestAnAPIServerRestartMidRolloutConvergesWithoutADoubleRestart(t *testing.T) {
	ctx := context.Background()
	f := newMesh(t, 2)
	f.writeRepo("asm-1-29")
	f.onTag("asm-1-28")
	ids := f.deployments(3, "asm-1-28")
	t.Cleanup(func() { refreshControlPlanePods(t) })
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
	edit := func(o *apply.Options) {
		o.Restart.BatchSize = 1
		o.TargetCheckInterval = time.Hour
	}
	_, res, err := f.sync(ctx, "c1", edit)
	if rerr := <-restarted; rerr != nil {
		t.Fatalf("restarting kube-apiserver: %v", rerr)
	}
	first := res.Restarted
	if err != nil {
		t.Logf("the run during the API server restart stopped (%v); the next run goes on", err)
		refreshControlPlanePods(t)
		if _, res, err = f.sync(ctx, "c1", edit); err != nil {
			t.Fatalf("the run after the API server restart: %v", err)
		}
	}
	t.Logf("kube-apiserver down for 2s after the first restart; converged %s after it went down (%d restarts in the run it interrupted, %d after)",
		time.Since(down).Round(100*time.Millisecond), first, res.Restarted)
	f.waitRevision(ids, "asm-1-29")
	for _, id := range ids {
		ns, name := splitID(id)
		if n := replicaSets(t, ns, name); n != 2 {
			t.Errorf("%s has %d ReplicaSets, want 2: restarted %d times", id, n, n-1)
		}
	}
}

// refreshControlPlanePods replaces the pods of istiod and the gateway and
// waits until their replacements are ready: what the other tests of the
// package need.
func refreshControlPlanePods(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	for _, ns := range []string{controlplane.IstioNamespace, "aks-istio-ingress"} {
		if err := env.Clientset.CoreV1().Pods(ns).DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{}); err != nil {
			t.Fatalf("replacing the pods in %s: %v", ns, err)
		}
	}
	for _, ns := range []string{controlplane.IstioNamespace, "aks-istio-ingress"} {
		for deadline := time.Now().Add(2 * time.Minute); !allReady(t, ns); time.Sleep(200 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("the pods in %s are not ready again after the API server restart", ns)
			}
		}
	}
}

// allReady: every Deployment of ns has exactly its replicas, each pod
// ready and none on its way out.
func allReady(t *testing.T, ns string) bool {
	t.Helper()
	ctx := context.Background()
	deploys, err := env.Clientset.AppsV1().Deployments(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return false
	}
	want := 0
	for _, d := range deploys.Items {
		if d.Spec.Replicas != nil {
			want += int(*d.Spec.Replicas)
		}
		if d.Status.ReadyReplicas != d.Status.Replicas || d.Status.ObservedGeneration < d.Generation {
			return false
		}
	}
	pods, err := env.Clientset.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
	if err != nil || len(pods.Items) != want {
		return false
	}
	for _, p := range pods.Items {
		ready := false
		for _, c := range p.Status.Conditions {
			ready = ready || c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue
		}
		if !ready || p.DeletionTimestamp != nil {
			return false
		}
	}
	return true
}
