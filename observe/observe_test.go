package observe

import (
	"context"
	"fmt"
	"testing"

	"github.com/meshops/meshops/test/kubetest"
	"github.com/meshops/meshops/test/simmesh"
)

var env *kubetest.Env

func TestMain(m *testing.M) { kubetest.Main(m, &env) }

func TestObserveGroupsPodsByControllingOwnerWithTheirRevision(t *testing.T) {
	ctx := context.Background()
	sim := simmesh.DefaultOptions()
	sim.Namespace = env.Namespace(t, nil)
	sim.IngressNamespace = env.Namespace(t, nil)
	if err := simmesh.Install(ctx, env.Client, sim); err != nil {
		t.Fatal(err)
	}
	ns := env.Namespace(t, map[string]string{"istio.io/rev": "prod-stable"})
	env.SeedWorkloads(t, ns, "asm-1-28")
	if err := simmesh.SetDeploymentReady(ctx, env.Client, sim.Namespace, "istiod-asm-1-29", false); err != nil {
		t.Fatal(err)
	}

	snap, err := Observe(ctx, env.Client, Options{IstioNamespace: sim.Namespace})
	if err != nil {
		t.Fatal(err)
	}
	if ok, why := snap.ControlPlanes["asm-1-28"].Healthy(1); !ok {
		t.Errorf("asm-1-28 should be healthy: %s", why)
	}
	if ok, _ := snap.ControlPlanes["asm-1-29"].Healthy(1); ok {
		t.Error("asm-1-29 has no ready replicas and must not be healthy")
	}
	if got := snap.Namespaces[ns].Rev; got != "prod-stable" {
		t.Errorf("namespace %s istio.io/rev = %q", ns, got)
	}
	var got []string
	for _, w := range snap.Workloads {
		if w.Namespace == ns {
			got = append(got, fmt.Sprintf("%s pods=%d revisions=%v", w.Ref().String(), len(w.Pods), w.Revisions()))
		}
	}
	want := []string{
		fmt.Sprintf("CronJob/%s/cleanup pods=1 revisions=map[asm-1-28:1]", ns),
		fmt.Sprintf("Deployment/%s/frontend pods=2 revisions=map[asm-1-28:2]", ns),
		fmt.Sprintf("Pod/%s/debug pods=1 revisions=map[asm-1-28:1]", ns),
		fmt.Sprintf("StatefulSet/%s/db pods=1 revisions=map[asm-1-28:1]", ns),
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("workloads:\n got %v\nwant %v", got, want)
	}
}

func TestObserveCostsTheSameRequestsWhateverTheNumberOfObjects(t *testing.T) {
	ctx := context.Background()
	c, n, streams := env.CountingClient(t)
	measure := func() int64 {
		// Warm the client's discovery first, so only Observe is counted.
		if _, err := Observe(ctx, c, DefaultOptions()); err != nil {
			t.Fatal(err)
		}
		before, streamsBefore := n.Load(), streams.Load()
		if _, err := Observe(ctx, c, DefaultOptions()); err != nil {
			t.Fatal(err)
		}
		// Pods and their owners stream; the rest are small lists.
		if got := streams.Load() - streamsBefore; got != 3 {
			t.Errorf("Observe streamed %d lists, want 3 (Pods, ReplicaSets, Jobs)", got)
		}
		return n.Load() - before
	}
	env.SeedWorkloads(t, env.Namespace(t, nil), "asm-1-28")
	small := measure()
	for i := 0; i < 10; i++ {
		env.SeedWorkloads(t, env.Namespace(t, nil), "asm-1-29")
	}
	large := measure()
	if small != large {
		t.Errorf("Observe made %d requests with 1 namespace of workloads and %d with 11; it must not grow", small, large)
	}
	// One list or stream per kind: webhooks, istiod Deployments,
	// Namespaces, Pods, ReplicaSets, Jobs.
	if large != 6 {
		t.Errorf("Observe made %d requests, want 6 (one list per kind)", large)
	}
}
