package controlplane

import (
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// RemoveRevision deletes what istioctl renders for the revision and
// nothing the revisions share (the kinds and names are istioctl 1.29's).
func TestOwnedByRevisionKeepsWhatRevisionsShare(t *testing.T) {
	tests := []struct {
		kind, name string
		labels     map[string]string
		want       bool
	}{
		{"ServiceAccount", "istio-reader-service-account", nil, false},
		{"ServiceAccount", "istiod-asm-1-28", nil, true},
		{"ClusterRole", "istiod-clusterrole-asm-1-28-aks-istio-system", nil, true},
		{"ClusterRoleBinding", "istio-reader-clusterrole-asm-1-28-aks-istio-system", nil, true},
		{"ConfigMap", "istio-asm-1-28", map[string]string{"istio.io/rev": "asm-1-28"}, true},
		{"MutatingWebhookConfiguration", "istio-sidecar-injector-asm-1-28-aks-istio-system", map[string]string{"istio.io/rev": "asm-1-28"}, true},
		{"Deployment", "istiod-asm-1-29", map[string]string{"istio.io/rev": "asm-1-29"}, false},
		{"Namespace", "aks-istio-system-asm-1-28", nil, false},
		{"ConfigMap", "mesh-settings", map[string]string{"istio.io/rev": "asm-1-28"}, true},
		{"Deployment", "istiod-asm-1-280", nil, false},
		{"ConfigMap", "asm-1-28", nil, true},
	}
	for _, tt := range tests {
		o := &unstructured.Unstructured{}
		o.SetKind(tt.kind)
		o.SetName(tt.name)
		o.SetLabels(tt.labels)
		if got := ownedByRevision(o, "asm-1-28"); got != tt.want {
			t.Errorf("ownedByRevision(%s %s, asm-1-28) = %v, want %v", tt.kind, tt.name, got, tt.want)
		}
	}
}
