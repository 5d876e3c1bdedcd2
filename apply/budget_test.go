package apply

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"

	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/meshops/meshops/configs"
)

func TestTheBudgetResolvesMaxUnavailableAgainstTheMeshPods(t *testing.T) {
	for _, tc := range []struct {
		name           string
		maxUnavailable intstr.IntOrString
		batch          int
		meshPods       int
		want           budget
	}{
		{"the defaults on 200 one-replica workloads", intstr.FromString("25%"), 50, 200, budget{Workloads: 50, Pods: 50}},
		{"a percentage rounds down, as a Deployment's maxUnavailable", intstr.FromString("25%"), 50, 7, budget{Workloads: 50, Pods: 1}},
		{"a small mesh still moves: at least one pod", intstr.FromString("10%"), 50, 3, budget{Workloads: 50, Pods: 1}},
		{"an empty mesh still moves", intstr.FromString("25%"), 50, 0, budget{Workloads: 50, Pods: 1}},
		{"a number is pods, whatever the mesh", intstr.FromInt32(2), 20, 1000, budget{Workloads: 20, Pods: 2}},
		{"100% is every pod: the cap alone paces", intstr.FromString("100%"), 20, 120, budget{Workloads: 20, Pods: 120}},
		{"an invalid value (validation refuses it) takes the default", intstr.FromString("lots"), 50, 40, budget{Workloads: 50, Pods: 10}},
		{"a cap below 1 is 1", intstr.FromInt32(5), 0, 10, budget{Workloads: 1, Pods: 5}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := newBudget(configs.Restart{BatchSize: tc.batch, MaxUnavailable: tc.maxUnavailable}, tc.meshPods)
			if got != tc.want {
				t.Errorf("newBudget(%s, batch %d, %d pods) = %+v, want %+v", tc.maxUnavailable.String(), tc.batch, tc.meshPods, got, tc.want)
			}
		})
	}
}

func TestAdmitKeepsThePodsInFlightWithinTheBudgetButNeverDeadlocks(t *testing.T) {
	b := budget{Workloads: 5, Pods: 4}
	for _, tc := range []struct {
		name   string
		in     inFlight
		window int
		pods   int
		want   bool
	}{
		{"nothing in flight: the first starts", inFlight{}, 1, 1, true},
		{"a workload bigger than the whole budget starts alone", inFlight{}, 4, 9, true},
		{"and nothing joins it", inFlight{Workloads: 1, Pods: 9}, 4, 1, false},
		{"nor does it join others", inFlight{Workloads: 1, Pods: 1}, 4, 9, false},
		{"room for its pods", inFlight{Workloads: 2, Pods: 2}, 4, 2, true},
		{"exactly at the budget", inFlight{Workloads: 3, Pods: 3}, 4, 1, true},
		{"one pod over", inFlight{Workloads: 2, Pods: 3}, 4, 2, false},
		{"the window is full", inFlight{Workloads: 2, Pods: 2}, 2, 1, false},
		{"the cap holds whatever the window", inFlight{Workloads: 5, Pods: 0}, 50, 0, false},
		{"a window of one: one at a time", inFlight{Workloads: 1, Pods: 1}, 1, 1, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := b.admit(tc.in, tc.window, tc.pods); got != tc.want {
				t.Errorf("admit(%+v, window %d, %d pods) under %+v = %v, want %v", tc.in, tc.window, tc.pods, b, got, tc.want)
			}
		})
	}
}

func TestTheWindowWidensPerHealthyRolloutAndHalvesAtAFailure(t *testing.T) {
	for _, tc := range []struct {
		name          string
		window, limit int
		outcome       outcome
		want          int
	}{
		{"a healthy rollout: twice as wide", 4, 100, rolledOut, 8},
		{"up to the cap", 40, 50, rolledOut, 50},
		{"at the cap", 50, 50, rolledOut, 50},
		{"never above it", 60, 50, rolledOut, 50},
		{"a failure that lets the rollout go on: half", 16, 50, failedTolerated, 8},
		{"half rounds down", 5, 50, failedTolerated, 2},
		{"never below one", 1, 50, failedTolerated, 1},
		{"a failure that stops the rollout narrows it too", 8, 50, failedStops, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := nextWindow(tc.window, tc.outcome, tc.limit); got != tc.want {
				t.Errorf("nextWindow(%d, %v, %d) = %d, want %d", tc.window, tc.outcome, tc.limit, got, tc.want)
			}
		})
	}
}

// With the defaults and every workload in flight ending healthy, the
// first four rollouts prove the target, and the window then opens to the
// cap: the rounds run 4, 64 and then the cap, as the defaults' comment
// says.
func TestTheDefaultWindowOpensToTheCapAfterTheFirstHealthyRound(t *testing.T) {
	d := configs.DefaultSettings().Extensions.Restart
	window := startWindow(d)
	var rounds []int
	for range 4 {
		rounds = append(rounds, window)
		for range window {
			window = nextWindow(window, rolledOut, d.BatchSize)
		}
	}
	want := []int{4, 64, 100, 100}
	if !slices.Equal(rounds, want) {
		t.Fatalf("windows per round = %v, want %v", rounds, want)
	}
}

func TestTheStartWindowIsTheInitialBatchWithinTheCap(t *testing.T) {
	for _, tc := range []struct {
		initial, batch, want int
	}{
		{4, 50, 4},
		{4, 2, 2}, // a repo that set batchSize: 2 before initialBatch existed keeps it
		{0, 50, 1},
		{50, 50, 50},
	} {
		if got := startWindow(configs.Restart{InitialBatch: tc.initial, BatchSize: tc.batch}); got != tc.want {
			t.Errorf("startWindow(initialBatch %d, batchSize %d) = %d, want %d", tc.initial, tc.batch, got, tc.want)
		}
	}
}

// What a restart takes from the pod budget: the pods the workload's own
// strategy lets its rollout have unavailable at once.
func TestARestartTakesFromTheBudgetWhatItsStrategyTakesOutOfService(t *testing.T) {
	pct := func(s string) *intstr.IntOrString { v := intstr.FromString(s); return &v }
	num := func(n int32) *intstr.IntOrString { v := intstr.FromInt32(n); return &v }
	deploy := func(replicas int32, s appsv1.DeploymentStrategy) *appsv1.Deployment {
		return &appsv1.Deployment{Spec: appsv1.DeploymentSpec{Replicas: ptr.To(replicas), Strategy: s}}
	}
	rolling := func(mu *intstr.IntOrString) appsv1.DeploymentStrategy {
		return appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType, RollingUpdate: &appsv1.RollingUpdateDeployment{MaxUnavailable: mu}}
	}
	sts := func(replicas int32, mu *intstr.IntOrString) *appsv1.StatefulSet {
		s := &appsv1.StatefulSet{Spec: appsv1.StatefulSetSpec{Replicas: ptr.To(replicas)}}
		if mu != nil {
			s.Spec.UpdateStrategy.RollingUpdate = &appsv1.RollingUpdateStatefulSetStrategy{MaxUnavailable: mu}
		}
		return s
	}
	ds := func(nodes int32, mu *intstr.IntOrString) *appsv1.DaemonSet {
		d := &appsv1.DaemonSet{Status: appsv1.DaemonSetStatus{DesiredNumberScheduled: nodes}}
		if mu != nil {
			d.Spec.UpdateStrategy.RollingUpdate = &appsv1.RollingUpdateDaemonSet{MaxUnavailable: mu}
		}
		return d
	}
	for _, tc := range []struct {
		name string
		obj  runtime.Object
		want int
		ok   bool
	}{
		{"one replica, the default 25% rounds down to 0: it surges, none unavailable", deploy(1, appsv1.DeploymentStrategy{}), 0, true},
		{"two replicas, surge only", deploy(2, rolling(num(0))), 0, true},
		{"no surge and no unavailable: the controller takes one", deploy(2, appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType,
			RollingUpdate: &appsv1.RollingUpdateDeployment{MaxUnavailable: num(0), MaxSurge: num(0)}}), 1, true},
		{"ten replicas, the default 25%", deploy(10, appsv1.DeploymentStrategy{}), 2, true},
		{"ten replicas, 50%", deploy(10, rolling(pct("50%"))), 5, true},
		{"ten replicas, 3", deploy(10, rolling(num(3))), 3, true},
		{"more unavailable than replicas", deploy(2, rolling(num(5))), 2, true},
		{"recreate takes every replica", deploy(4, appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType}), 4, true},
		{"replicas unset is one, which surges", &appsv1.Deployment{}, 0, true},
		{"recreate of one replica", deploy(1, appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType}), 1, true},
		{"scaled to zero takes none", deploy(0, appsv1.DeploymentStrategy{}), 0, true},
		{"statefulset, one at a time by default", sts(5, nil), 1, true},
		{"statefulset, 40% rounds up", sts(5, pct("40%")), 2, true},
		{"daemonset, one node at a time by default", ds(6, nil), 1, true},
		{"daemonset that surges", func() *appsv1.DaemonSet {
			d := ds(6, num(0))
			d.Spec.UpdateStrategy.RollingUpdate.MaxSurge = num(1)
			return d
		}(), 0, true},
		{"daemonset, 50% of its nodes", ds(6, pct("50%")), 3, true},
		{"a bare pod is not a workload with a strategy", &corev1.Pod{}, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := podsOut(tc.obj)
			if got != tc.want || ok != tc.ok {
				t.Errorf("podsOut = %d, %v; want %d, %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}

// Why a restart's wait ended early, in its error: the workload's own
// timeout, or the rollout stopping around it; never a bare context error,
// which the CLI would explain as an API server timeout.
func TestAWaitThatEndsEarlySaysWhy(t *testing.T) {
	expired, cancel := context.WithTimeout(context.Background(), 0)
	defer cancel()
	<-expired.Done()
	failed, stop := context.WithCancelCause(context.Background())
	stop(&restartFailedError{Workload: "Deployment/maestro/maestro-api"})
	underFailed, cancelUnder := context.WithTimeout(failed, time.Hour)
	defer cancelUnder()
	unhealthy, stopUnhealthy := context.WithCancelCause(context.Background())
	stopUnhealthy(&TargetUnhealthyError{Revision: "asm-1-30", Why: "istiod-asm-1-30: 0/1 ready"})
	interrupted, interrupt := context.WithCancel(context.Background())
	interrupt()
	for _, tc := range []struct {
		name string
		ctx  context.Context
		want string
	}{
		{"its own timeout", expired, "Deployment/a/b did not roll out onto asm-1-30 within 20s: 1 of 2 replicas updated"},
		{"another restart failed", underFailed, "Deployment/a/b did not roll out onto asm-1-30: stopped waiting (1 of 2 replicas updated) because Deployment/maestro/maestro-api failed"},
		{"the target turned unhealthy", unhealthy, "Deployment/a/b did not roll out onto asm-1-30: stopped waiting (1 of 2 replicas updated) because target revision asm-1-30 became unhealthy during the restarts: istiod-asm-1-30: 0/1 ready"},
		{"interrupted", interrupted, "Deployment/a/b did not roll out onto asm-1-30: stopped waiting (1 of 2 replicas updated): interrupted"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := waitStopped(tc.ctx, "Deployment/a/b did not roll out onto asm-1-30", 20*time.Second, "1 of 2 replicas updated")
			if err.Error() != tc.want {
				t.Errorf("got  %s\nwant %s", err, tc.want)
			}
			if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
				t.Errorf("%v wraps the context's error", err)
			}
		})
	}
}
