package rollout

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

func TestDeployment(t *testing.T) {
	deploy := func(gen, observed int64, replicas, total, updated, ready, available int32) *appsv1.Deployment {
		return &appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Generation: gen},
			Spec:       appsv1.DeploymentSpec{Replicas: ptr.To(replicas)},
			Status: appsv1.DeploymentStatus{ObservedGeneration: observed, Replicas: total, UpdatedReplicas: updated,
				ReadyReplicas: ready, AvailableReplicas: available},
		}
	}
	for _, tc := range []struct {
		name string
		d    *appsv1.Deployment
		done bool
	}{
		{"complete", deploy(2, 2, 2, 2, 2, 2, 2), true},
		{"new spec not observed yet", deploy(3, 2, 2, 2, 2, 2, 2), false},
		{"replicas not all updated", deploy(2, 2, 2, 3, 1, 2, 2), false},
		{"old replica still terminating", deploy(2, 2, 2, 3, 2, 3, 3), false},
		{"updated replica not available", deploy(2, 2, 2, 2, 2, 2, 1), false},
		{"updated replica not ready", deploy(2, 2, 2, 2, 2, 1, 2), false},
		{"scaled to zero", deploy(1, 1, 0, 0, 0, 0, 0), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Deployment(tc.d); got.Done != tc.done || got.Message == "" {
				t.Errorf("Deployment() = %+v, want done=%v with a message", got, tc.done)
			}
		})
	}
}

func TestStatefulSet(t *testing.T) {
	sts := func(mutate func(*appsv1.StatefulSet)) *appsv1.StatefulSet {
		s := &appsv1.StatefulSet{
			ObjectMeta: metav1.ObjectMeta{Generation: 1},
			Spec:       appsv1.StatefulSetSpec{Replicas: ptr.To(int32(2))},
			Status: appsv1.StatefulSetStatus{ObservedGeneration: 1, UpdatedReplicas: 2, ReadyReplicas: 2, AvailableReplicas: 2,
				CurrentRevision: "r2", UpdateRevision: "r2"},
		}
		if mutate != nil {
			mutate(s)
		}
		return s
	}
	for _, tc := range []struct {
		name string
		s    *appsv1.StatefulSet
		done bool
	}{
		{"complete", sts(nil), true},
		{"revision still rolling", sts(func(s *appsv1.StatefulSet) { s.Status.CurrentRevision = "r1" }), false},
		{"replica not ready", sts(func(s *appsv1.StatefulSet) { s.Status.ReadyReplicas = 1 }), false},
		{"OnDelete never rolls", sts(func(s *appsv1.StatefulSet) {
			s.Spec.UpdateStrategy.Type = appsv1.OnDeleteStatefulSetStrategyType
		}), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := StatefulSet(tc.s); got.Done != tc.done {
				t.Errorf("StatefulSet() = %+v, want done=%v", got, tc.done)
			}
		})
	}
}

func TestDaemonSet(t *testing.T) {
	for _, tc := range []struct {
		name   string
		status appsv1.DaemonSetStatus
		done   bool
	}{
		{"complete", appsv1.DaemonSetStatus{ObservedGeneration: 1, DesiredNumberScheduled: 3, UpdatedNumberScheduled: 3, NumberAvailable: 3}, true},
		{"node not updated", appsv1.DaemonSetStatus{ObservedGeneration: 1, DesiredNumberScheduled: 3, UpdatedNumberScheduled: 2, NumberAvailable: 3}, false},
		{"pod not available", appsv1.DaemonSetStatus{ObservedGeneration: 1, DesiredNumberScheduled: 3, UpdatedNumberScheduled: 3, NumberAvailable: 2}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Generation: 1}, Status: tc.status}
			if got := DaemonSet(d); got.Done != tc.done {
				t.Errorf("DaemonSet() = %+v, want done=%v", got, tc.done)
			}
		})
	}
}
