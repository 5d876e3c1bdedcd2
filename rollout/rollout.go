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

// DeploymentCounts are the numbers a Deployment's rollout is judged by; a
// control plane keeps them without its Deployment.
type DeploymentCounts struct {
	Generation, ObservedGeneration int64
	// Desired is spec.replicas (default 1); the rest are from status.
	Desired, Replicas, Updated, Ready, Available int32
}

// CountsOf reads a Deployment's counts.
func CountsOf(d *appsv1.Deployment) DeploymentCounts {
	s := d.Status
	return DeploymentCounts{
		Generation: d.Generation, ObservedGeneration: s.ObservedGeneration,
		Desired: ptr.Deref(d.Spec.Replicas, 1), Replicas: s.Replicas,
		Updated: s.UpdatedReplicas, Ready: s.ReadyReplicas, Available: s.AvailableReplicas,
	}
}

// Deployment is complete when the controller has seen the latest spec,
// every replica runs the latest template, no old replica is left, and all
// are available.
func Deployment(d *appsv1.Deployment) Status { return CountsOf(d).Status() }

// Status is the one rule for a Deployment's rollout, for workloads and
// istiod alike.
func (c DeploymentCounts) Status() Status {
	switch {
	case c.ObservedGeneration < c.Generation:
		return Status{Message: fmt.Sprintf("generation %d not observed yet (observed %d)", c.Generation, c.ObservedGeneration)}
	case c.Updated < c.Desired:
		return Status{Message: fmt.Sprintf("%d of %d replicas updated", c.Updated, c.Desired)}
	case c.Replicas > c.Updated:
		return Status{Message: fmt.Sprintf("%d old replicas pending termination", c.Replicas-c.Updated)}
	case c.Available < c.Updated || c.Ready < c.Desired:
		return Status{Message: fmt.Sprintf("%d of %d updated replicas available", c.Available, c.Updated)}
	}
	return Status{Done: true, Message: fmt.Sprintf("%d of %d replicas updated and available", c.Available, c.Desired)}
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
