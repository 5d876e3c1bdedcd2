// Package rollout judges whether a workload's rollout is complete, the way
// `kubectl rollout status` does, so that meshops' restarts, its control-plane
// gate and the test harness all wait for the same thing.
package rollout

import (
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/utils/ptr"
)

// Status is a rollout's state in one line, and whether it is complete.
type Status struct {
	Done bool
	// Message says what is still missing, or that it is done.
	Message string
}

// Deployment is complete when the controller has seen the latest spec,
// every replica runs the latest template, no old replica is left, and all
// are available.
func Deployment(d *appsv1.Deployment) Status {
	want := ptr.Deref(d.Spec.Replicas, 1)
	s := d.Status
	switch {
	case s.ObservedGeneration < d.Generation:
		return Status{Message: fmt.Sprintf("waiting for the controller to observe generation %d", d.Generation)}
	case s.UpdatedReplicas < want:
		return Status{Message: fmt.Sprintf("%d of %d replicas updated", s.UpdatedReplicas, want)}
	case s.Replicas > s.UpdatedReplicas:
		return Status{Message: fmt.Sprintf("%d old replicas pending termination", s.Replicas-s.UpdatedReplicas)}
	case s.AvailableReplicas < s.UpdatedReplicas || s.ReadyReplicas < want:
		return Status{Message: fmt.Sprintf("%d of %d updated replicas available", s.AvailableReplicas, s.UpdatedReplicas)}
	}
	return Status{Done: true, Message: fmt.Sprintf("%d of %d replicas updated and available", s.AvailableReplicas, want)}
}

// StatefulSet is complete when every replica runs the update revision and
// is ready (RollingUpdate; OnDelete sets never roll by themselves).
func StatefulSet(s *appsv1.StatefulSet) Status {
	want := ptr.Deref(s.Spec.Replicas, 1)
	st := s.Status
	switch {
	case s.Spec.UpdateStrategy.Type == appsv1.OnDeleteStatefulSetStrategyType:
		return Status{Message: "update strategy OnDelete: pods move only when deleted"}
	case st.ObservedGeneration < s.Generation:
		return Status{Message: fmt.Sprintf("waiting for the controller to observe generation %d", s.Generation)}
	case st.UpdatedReplicas < want:
		return Status{Message: fmt.Sprintf("%d of %d replicas updated", st.UpdatedReplicas, want)}
	case st.UpdateRevision != "" && st.CurrentRevision != st.UpdateRevision:
		return Status{Message: fmt.Sprintf("current revision %s, update revision %s", st.CurrentRevision, st.UpdateRevision)}
	case st.ReadyReplicas < want || st.AvailableReplicas < want:
		return Status{Message: fmt.Sprintf("%d of %d replicas ready", st.ReadyReplicas, want)}
	}
	return Status{Done: true, Message: fmt.Sprintf("%d of %d replicas updated and ready", st.ReadyReplicas, want)}
}

// DaemonSet is complete when every scheduled node runs the latest template
// and its pod is available.
func DaemonSet(d *appsv1.DaemonSet) Status {
	st := d.Status
	switch {
	case st.ObservedGeneration < d.Generation:
		return Status{Message: fmt.Sprintf("waiting for the controller to observe generation %d", d.Generation)}
	case st.UpdatedNumberScheduled < st.DesiredNumberScheduled:
		return Status{Message: fmt.Sprintf("%d of %d pods updated", st.UpdatedNumberScheduled, st.DesiredNumberScheduled)}
	case st.NumberAvailable < st.DesiredNumberScheduled:
		return Status{Message: fmt.Sprintf("%d of %d pods available", st.NumberAvailable, st.DesiredNumberScheduled)}
	}
	return Status{Done: true, Message: fmt.Sprintf("%d of %d pods updated and available", st.NumberAvailable, st.DesiredNumberScheduled)}
}
