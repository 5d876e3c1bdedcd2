package apply_test

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/client-go/rest"

	"github.com/meshops/meshops/apply"
	"github.com/meshops/meshops/plan"
	"github.com/meshops/meshops/test/e2e"
)

// Restarts read their workloads, pods and PodDisruptionBudgets from
// watches shared by the whole restart phase, and the moved workloads are
// recorded by group commit: what a restart costs beyond the run's fixed
// cost is its stamp and its share of the record writes. Measured as the
// difference between an upgrade of 16 and one of 4 one-replica
// Deployments (in two namespaces each, so every fixed cost is the same),
// counted by a RoundTripper under meshops' own client for the whole
// Execute. The target's health check runs on a clock, not per workload:
// it is set out of the way so the count does not depend on how long the
// rollouts take.
func TestRestartsCostAtMostFourRequestsPerWorkload(t *testing.T) {
	const small, large, perWorkload = 4, 16, 4
	s := upgradeRequests(t, small)
	l := upgradeRequests(t, large)
	t.Logf("requests of the whole upgrade: %d for %d workloads, %d for %d; restart phase alone: %d and %d; %.1f per extra workload",
		s.run, small, l.run, large, s.restarts, l.restarts, float64(l.run-s.run)/(large-small))
	if extra := l.run - s.run; extra > perWorkload*(large-small) {
		t.Errorf("%d more requests for %d more workloads: more than %d per restarted workload", extra, large-small, perWorkload)
	}
}

type upgradeCount struct{ run, restarts int64 }

// upgradeRequests upgrades n one-replica Deployments, half in each of two
// namespaces, from asm-1-28 to asm-1-29 and counts the executor's
// requests: all of them, and those from the first restart's start to the
// step after the restarts.
func upgradeRequests(t *testing.T, n int) upgradeCount {
	t.Helper()
	ctx := context.Background()
	f := newMesh(t, 2)
	f.writeRepo("asm-1-29")
	f.onTag("asm-1-28")
	var ids []string
	for i := range n {
		ns, name := f.namespaces[i%2], fmt.Sprintf("app-%d", i)
		env.CreateDeployment(t, ns, name, e2e.DeploymentOptions{Replicas: 1})
		ids = append(ids, "Deployment/"+ns+"/"+name)
	}
	f.waitRevision(ids, "asm-1-28")

	var requests atomic.Int64
	cfg := rest.CopyConfig(env.Cluster.Config)
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper {
		return countingTransport{rt, &requests}
	})
	f.cluster, f.store = env.MeshopsWith(t, cfg)
	conf := f.config()
	p := f.plan(conf, "c1")
	var mu sync.Mutex
	var restartsFrom, restartsTo int64 = -1, -1
	opts := apply.NewOptions(conf)
	opts.PollInterval = 100 * time.Millisecond
	opts.TargetCheckInterval = time.Hour
	opts.Progress = func(ev apply.Event) {
		mu.Lock()
		defer mu.Unlock()
		switch {
		case ev.Step.Phase == plan.PhaseRestarts && ev.Status == apply.StepStarted && restartsFrom < 0:
			restartsFrom = requests.Load()
		case ev.Step.Phase != plan.PhaseRestarts && restartsFrom >= 0 && restartsTo < 0:
			restartsTo = requests.Load()
		}
	}
	ex := &apply.Executor{Cluster: f.cluster, Store: f.store, Options: opts}
	before := requests.Load()
	res, err := ex.Execute(ctx, p, conf)
	if err != nil {
		t.Fatalf("upgrading %d workloads: %v", n, err)
	}
	if res.Restarted != n {
		t.Fatalf("upgrade restarted %d of %d workloads", res.Restarted, n)
	}
	f.waitRevision(ids, "asm-1-29")
	return upgradeCount{run: requests.Load() - before, restarts: restartsTo - restartsFrom}
}

type countingTransport struct {
	rt http.RoundTripper
	n  *atomic.Int64
}

func (c countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)

	return c.rt.RoundTrip(r)
}
