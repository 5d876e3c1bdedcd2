package apply

import (
	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/meshops/meshops/configs"
)

// budget is how much of the mesh the restarts may take down at once: the
// pacing rules of restarts, pure so a table can prove them.
type budget struct {
	// Workloads is the most workloads restarting at once (restart.batchSize).
	Workloads int
	// Pods is the most pods of restarting workloads (restart.maxUnavailable,
	// resolved against the mesh's pods).
	Pods int
}

// newBudget resolves the restart policy against a mesh of meshPods pods: a
// percentage is of those, rounded down as Kubernetes rounds a Deployment's
// maxUnavailable, and at least one pod, so a small mesh still moves one
// workload at a time rather than waiting on a budget of zero.
func newBudget(o configs.Restart, meshPods int) budget {
	mu := o.MaxUnavailable
	if configs.CheckMaxUnavailable(mu) != "" {
		mu = intstr.FromString(configs.DefaultRestartMaxUnavailable)
	}
	pods, err := intstr.GetScaledValueFromIntOrPercent(&mu, meshPods, false)
	if err != nil {
		pods = 1
	}
	return budget{Workloads: max(o.BatchSize, 1), Pods: max(pods, 1)}
}

// inFlight is what restarts are under way: every pod of a restarting
// workload counts, as its pods are being replaced.
type inFlight struct {
	Workloads, Pods int
}

// admit reports whether the next workload, of pods pods, may start now,
// with window workloads allowed at once. A workload starts only if the
// window, the cap and the pod budget all still hold with it in flight,
// except when nothing else is restarting: then it starts whatever its size,
// so a workload bigger than the whole budget restarts alone rather than
// never.
func (b budget) admit(in inFlight, window, pods int) bool {
	if in.Workloads == 0 {
		return true
	}
	if in.Workloads >= min(window, b.Workloads) {
		return false
	}
	return in.Pods+pods <= b.Pods
}

// outcome is how one restart ended, for the window.
type outcome int

const (
	// rolledOut: the workload came up healthy on the target.
	rolledOut outcome = iota
	// failedTolerated: it failed, and the rollout goes on (a workload that
	// was not healthy before the upgrade either).
	failedTolerated
	// failedStops: it failed and the rollout stops.
	failedStops
)

// nextWindow is the window after a restart ended with outcome: twice as
// wide after each healthy rollout, up to limit, so the first few rollouts
// on the target are its proof and the budget and the cap bound the rest;
// half as wide, at least one, after a failure that lets the rollout go
// on, so the next workloads start more carefully.
func nextWindow(window int, o outcome, limit int) int {
	if o == rolledOut {
		return max(min(window*2, limit), 1)
	}
	return max(window/2, 1)
}

// startWindow is the window at the start: restart.initialBatch, at most
// the cap.
func startWindow(o configs.Restart) int {
	return max(min(o.InitialBatch, o.BatchSize), 1)
}

// stepPods is what a restart takes from the budget when its workload's
// strategy is not at hand (no shared watch holds it): all the workload's
// pods when planned, the most its rollout could take out of service; a
// step planned without them counts as one pod.
func stepPods(pods int) int {
	return max(pods, 1)
}

// podsOut is what a restart of obj takes from the budget: the pods its
// own rollout may have unavailable at once, as its controller resolves
// its strategy. A Deployment's maxUnavailable of its replicas rounded down
// (25 % when unset; one when maxSurge is zero too, as the controller
// does), so a one-replica Deployment that surges takes none: its new pod
// is ready before the old one goes. Every replica for Recreate. A
// StatefulSet's maxUnavailable (1 when unset: it cannot surge), a
// DaemonSet's of its scheduled pods rounded up. ok is false for a kind it
// does not know.
func podsOut(obj runtime.Object) (pods int, ok bool) {
	scaled := func(v *intstr.IntOrString, def intstr.IntOrString, of int, roundUp bool) int {
		if v == nil {
			v = &def
		}
		n, err := intstr.GetScaledValueFromIntOrPercent(v, of, roundUp)
		if err != nil {
			return of
		}
		return n
	}
	// rolling is what a rolling update of of pods has unavailable at once.
	rolling := func(mu, ms *intstr.IntOrString, def intstr.IntOrString, of int, roundUp bool) int {
		unavailable := scaled(mu, def, of, roundUp)
		if unavailable == 0 && scaled(ms, intstr.FromString("25%"), of, true) == 0 {
			unavailable = 1
		}
		return min(unavailable, of)
	}
	switch o := obj.(type) {
	case *appsv1.Deployment:
		replicas := int(ptr.Deref(o.Spec.Replicas, 1))
		if o.Spec.Strategy.Type == appsv1.RecreateDeploymentStrategyType {
			return replicas, true
		}
		var mu, ms *intstr.IntOrString
		if ru := o.Spec.Strategy.RollingUpdate; ru != nil {
			mu, ms = ru.MaxUnavailable, ru.MaxSurge
		}
		return rolling(mu, ms, intstr.FromString("25%"), replicas, false), true
	case *appsv1.StatefulSet:
		replicas := int(ptr.Deref(o.Spec.Replicas, 1))
		var mu *intstr.IntOrString
		if ru := o.Spec.UpdateStrategy.RollingUpdate; ru != nil {
			mu = ru.MaxUnavailable
		}
		zero := intstr.FromInt32(0)
		return rolling(mu, &zero, intstr.FromInt32(1), replicas, true), true
	case *appsv1.DaemonSet:
		nodes := int(o.Status.DesiredNumberScheduled)
		var mu, ms *intstr.IntOrString
		if ru := o.Spec.UpdateStrategy.RollingUpdate; ru != nil {
			mu, ms = ru.MaxUnavailable, ru.MaxSurge
		}
		if ms == nil {
			zero := intstr.FromInt32(0)
			ms = &zero
		}
		return rolling(mu, ms, intstr.FromInt32(1), nodes, true), true
	}
	return 0, false
}
