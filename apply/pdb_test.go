package apply_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/meshops/meshops/apply"
	"github.com/meshops/meshops/plan"
	"github.com/meshops/meshops/test/e2e"
)

// A restart waits while a PodDisruptionBudget of its workload allows no
// disruption, and says so in a waiting event; once the budget is gone the
// shared watch wakes it, it restarts the workload and reports what the
// rollout waits for until it is done.
func TestARestartWaitsWhileItsPodDisruptionBudgetAllowsNoDisruptionAndSaysWhy(t *testing.T) {
	ctx := context.Background()
	f := newMesh(t, 1)
	ns := f.namespaces[0]
	f.writeRepo("asm-1-29")
	f.onTag("asm-1-28")
	env.CreateDeployment(t, ns, "api", e2e.DeploymentOptions{Replicas: 1})
	f.waitRevision([]string{"Deployment/" + ns + "/api"}, "asm-1-28")
	pdbs := env.Clientset.PolicyV1().PodDisruptionBudgets(ns)
	pdb := &policyv1.PodDisruptionBudget{
		ObjectMeta: metav1.ObjectMeta{Name: "api", Namespace: ns},
		Spec: policyv1.PodDisruptionBudgetSpec{
			MinAvailable: ptr.To(intstr.FromInt32(1)),
			Selector:     &metav1.LabelSelector{MatchLabels: map[string]string{"app": "api"}},
		},
	}
	if _, err := pdbs.Create(ctx, pdb, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(100 * time.Millisecond) {
		got, err := pdbs.Get(ctx, "api", metav1.GetOptions{})
		if err == nil && got.Status.ObservedGeneration >= got.Generation && got.Status.DesiredHealthy == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the disruption controller never computed the budget's status")
		}
	}

	var mu sync.Mutex
	var waits []apply.Event
	var once sync.Once
	_, res, err := f.sync(ctx, "c1", func(o *apply.Options) {
		o.Progress = func(ev apply.Event) {
			if ev.Status != apply.StepWaiting {
				return
			}
			mu.Lock()
			waits = append(waits, ev)
			mu.Unlock()
			if strings.Contains(ev.Message, "PodDisruptionBudget api allows no disruption") {
				once.Do(func() {
					if err := pdbs.Delete(ctx, "api", metav1.DeleteOptions{}); err != nil {
						t.Error(err)
					}
				})
			}
		}
	})
	if err != nil {
		t.Fatalf("sync: %v", err)
	}
	if res.Restarted != 1 {
		t.Errorf("result %+v: want the workload restarted once the budget was gone", res)
	}
	f.waitRevision([]string{"Deployment/" + ns + "/api"}, "asm-1-29")

	mu.Lock()
	defer mu.Unlock()
	var blocked, rolling bool
	for _, ev := range waits {
		if ev.Step.Phase != plan.PhaseRestarts || ev.Index < 0 || ev.Step.Target.Workload == nil || ev.Step.Target.Workload.Name != "api" {
			t.Errorf("waiting event %+v: want the restart step of api, with its index", ev)
		}
		blocked = blocked || strings.Contains(ev.Message, "PodDisruptionBudget api allows no disruption now")
		rolling = rolling || strings.Contains(ev.Message, "replicas") || strings.Contains(ev.Message, "generation")
	}
	if !blocked || !rolling {
		t.Errorf("waiting events %v: want one naming the budget and one for the rollout", waits)
	}
}
