package apply_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/meshops/meshops/apply"
	"github.com/meshops/meshops/plan"
	"github.com/meshops/meshops/test/e2e"
)

// With restart.maxUnavailable at 2 pods, the pods of the workloads
// restarting at once never exceed 2, except a 3-replica workload bigger
// than the whole budget, which restarts alone rather than never (every
// workload here is Recreate: its rollout has all its pods unavailable);
// and the
// window, started at one workload, widens once a rollout succeeds. The
// in-flight set is what the StepStarted and StepDone events say: a step is
// reported started after the budget admitted it and done before its end
// frees room, so the events never show less in flight than the budget saw.
func TestRestartsStayWithinThePodBudgetAndTheWindowWidensAsRolloutsSucceed(t *testing.T) {
	ctx := context.Background()
	f := newMesh(t, 1)
	ns := f.namespaces[0]
	f.writeRepo("asm-1-29")
	f.onTag("asm-1-28")
	// The plan restarts them in this (alphabetical) order: the big one
	// first, on its own, then the small ones.
	replicas := map[string]int{"a-big": 3, "b": 1, "c": 1, "d": 1, "e": 1, "f": 1}
	var ids []string
	for _, name := range []string{"a-big", "b", "c", "d", "e", "f"} {
		// Recreate: each rollout has all its pods unavailable, so each
		// takes its replicas from the budget, as the events below count.
		o := e2e.DeploymentOptions{Replicas: int32(replicas[name])}
		o.Strategy.Type = appsv1.RecreateDeploymentStrategyType
		env.CreateDeployment(t, ns, name, o)
		ids = append(ids, "Deployment/"+ns+"/"+name)
	}
	f.waitRevision(ids, "asm-1-28")

	var (
		mu         sync.Mutex
		inFlight   = map[string]int{} // name → its pods, while restarting
		pods       int
		peak       int // the most workloads in flight at once
		violations []string
		started    []string
		cStarted   = make(chan struct{})
	)
	// b's restart waits until c has started: c may start only while b is
	// in flight, which the window allows once the first rollout widened it
	// to two. Were it not widened, b would wait out its workload timeout
	// and the test fail; nothing here depends on how long a rollout takes.
	f.intercept(interceptor.Funcs{
		Patch: func(ctx context.Context, c client.WithWatch, obj client.Object, patch client.Patch, opts ...client.PatchOption) error {
			if _, ok := obj.(*appsv1.Deployment); ok && obj.GetNamespace() == ns && obj.GetName() == "b" {
				select {
				case <-cStarted:
				case <-ctx.Done():
					return ctx.Err()
				}
			}
			return c.Patch(ctx, obj, patch, opts...)
		},
	})
	progress := func(ev apply.Event) {
		if ev.Step.Phase != plan.PhaseRestarts || ev.Step.Target.Workload == nil {
			return
		}
		name := ev.Step.Target.Workload.Name
		mu.Lock()
		defer mu.Unlock()
		switch ev.Status {
		case apply.StepStarted:
			if ev.Step.Pods != replicas[name] {
				violations = append(violations, fmt.Sprintf("%s planned with %d pods, has %d", name, ev.Step.Pods, replicas[name]))
			}
			inFlight[name] = replicas[name]
			pods += replicas[name]
			started = append(started, name)
			peak = max(peak, len(inFlight))
			if pods > 2 && len(inFlight) > 1 {
				violations = append(violations, fmt.Sprintf("%s started with %v in flight: %d pods, over the budget of 2", name, inFlight, pods))
			}
			if name == "c" {
				close(cStarted)
			}
		case apply.StepDone, apply.StepFailed:
			pods -= inFlight[name]
			delete(inFlight, name)
		}
	}
	_, res, err := f.sync(ctx, "c1", func(o *apply.Options) {
		o.Restart.MaxUnavailable = intstr.FromInt32(2)
		o.Restart.InitialBatch = 1
		o.Restart.BatchSize = 10
		o.Progress = progress
	})
	if err != nil {
		t.Fatalf("sync: %v", err)
	}
	if res.Restarted != len(ids) {
		t.Errorf("restarted %d, want %d", res.Restarted, len(ids))
	}
	f.waitRevision(ids, "asm-1-29")
	mu.Lock()
	defer mu.Unlock()
	for _, v := range violations {
		t.Error(v)
	}
	if !slices.Equal(started, []string{"a-big", "b", "c", "d", "e", "f"}) {
		t.Errorf("started in the order %v, want the plan's", started)
	}
	if peak < 2 {
		t.Errorf("at most %d workload in flight at once: the window never widened from 1", peak)
	}
	t.Logf("peak of %d workloads in flight", peak)
}
