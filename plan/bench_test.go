package plan

import (
	"context"
	"fmt"
	"sync"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/meshops/meshops/observe"
	"github.com/meshops/meshops/test/kubetest"
)

// seedFleet creates namespaces × workloads (Deployment, ReplicaSet, one
// injected pod each) × policies against the shared API server, eight
// requests at a time.
func seedFleet(b *testing.B, namespaces, workloads, policies int) {
	b.Helper()
	ctx := context.Background()
	jobs := make(chan client.Object, 64)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	for range 8 {
		wg.Go(func() {
			for obj := range jobs {
				if err := env.Client.Create(ctx, obj); err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
				}
			}
		})
	}
	sel := &metav1.LabelSelector{MatchLabels: map[string]string{"app": "x"}}
	for n := range namespaces {
		ns := fmt.Sprintf("bench-%d", n)
		if err := env.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns, Labels: map[string]string{"istio.io/rev": "prod-stable"}}}); err != nil {
			b.Fatal(err)
		}
		for w := range workloads {
			d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: fmt.Sprintf("w%d", w)},
				Spec: appsv1.DeploymentSpec{Selector: sel, Template: kubetest.PodTemplate}}
			if err := env.Client.Create(ctx, d); err != nil {
				b.Fatal(err)
			}
			rs := &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: d.Name + "-abc", OwnerReferences: kubetest.ControllerRef("Deployment", "apps/v1", d)},
				Spec: appsv1.ReplicaSetSpec{Selector: sel, Template: kubetest.PodTemplate}}
			if err := env.Client.Create(ctx, rs); err != nil {
				b.Fatal(err)
			}
			jobs <- kubetest.InjectedPod(ns, rs.Name+"-1", "asm-1-28", kubetest.ControllerRef("ReplicaSet", "apps/v1", rs))
		}
		for p := range policies {
			jobs <- &unstructured.Unstructured{Object: map[string]any{
				"apiVersion": "security.istio.io/v1", "kind": "AuthorizationPolicy",
				"metadata": map[string]any{"namespace": ns, "name": fmt.Sprintf("allow-%d", p)},
				"spec": map[string]any{"rules": []any{map[string]any{"from": []any{map[string]any{"source": map[string]any{
					"principals": []any{fmt.Sprintf("cluster.local/ns/%s/sa/w%d", ns, p)}}}}}}},
			}}
		}
	}
	close(jobs)
	wg.Wait()
	if firstErr != nil {
		b.Fatal(firstErr)
	}
}

var seedOnce sync.Once

// BenchmarkObserveAndPlan observes 500 namespaces × 4 workloads × 5
// policies on the real API server and builds the upgrade plan from it
// (manifest diffs aside: those are one dry run per managed object).
// It reports API requests per plan next to time and allocations.
func BenchmarkObserveAndPlan(b *testing.B) {
	seedOnce.Do(func() { seedFleet(b, 500, 4, 5) })
	cfg := loadExample(b)
	c, n, _ := env.CountingClient(b)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	var requests int64
	for b.Loop() {
		before := n.Load()
		snap, err := observe.Observe(ctx, c, observe.DefaultOptions())
		if err != nil {
			b.Fatal(err)
		}
		p := Build(Inputs{Config: cfg, Snapshot: snap})
		if len(p.Steps) == 0 {
			b.Fatal("empty plan")
		}
		requests = n.Load() - before
	}
	b.ReportMetric(float64(requests), "requests/op")
}
