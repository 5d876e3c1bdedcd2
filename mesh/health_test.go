package mesh

import (
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

func deployment(replicas, updated, ready, available int32, gen, observed int64) *appsv1.Deployment {
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "istiod-asm-1-29", Generation: gen},
		Spec:       appsv1.DeploymentSpec{Replicas: ptr.To(replicas)},
		Status: appsv1.DeploymentStatus{
			ObservedGeneration: observed, UpdatedReplicas: updated, ReadyReplicas: ready, AvailableReplicas: available,
		},
	}
}

func withReplicas(d *appsv1.Deployment, n int32) *appsv1.Deployment {
	d.Status.Replicas = n
	return d
}

func TestControlPlaneHealthy(t *testing.T) {
	tests := []struct {
		name     string
		d        *appsv1.Deployment
		injector bool
		minReady int32
		healthy  bool
		reason   string
	}{
		{"fully rolled out with injector", deployment(2, 2, 2, 2, 3, 3), true, 1, true, "2/2 ready"},
		{"not installed", nil, false, 1, false, "not installed"},
		{"new generation not observed", deployment(2, 2, 2, 2, 4, 3), true, 1, false, "not observed"},
		{"rollout in progress", deployment(2, 1, 2, 2, 3, 3), true, 1, false, "1 of 2 replicas updated"},
		{"old replica left after the rollout", withReplicas(deployment(2, 2, 2, 2, 3, 3), 3), true, 1, false, "1 old replicas pending termination"},
		{"scaled to zero", deployment(0, 0, 0, 0, 3, 3), true, 1, false, "scaled to 0"},
		{"below the configured minimum", deployment(2, 2, 1, 1, 3, 3), true, 2, false, "1 ready"},
		{"one replica unavailable", deployment(2, 2, 2, 1, 3, 3), true, 1, false, "1 available of 2"},
		{"injector webhook missing", deployment(2, 2, 2, 2, 3, 3), false, 1, false, "no injector webhook"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, reason := ControlPlaneFromDeployment("asm-1-29", tt.d, tt.injector).Healthy(tt.minReady)
			if ok != tt.healthy || !strings.Contains(reason, tt.reason) {
				t.Errorf("Healthy() = %v, %q; want %v and a reason containing %q", ok, reason, tt.healthy, tt.reason)
			}
		})
	}
}
