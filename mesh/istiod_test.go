package mesh

import (
	"testing"

	"k8s.io/apimachinery/pkg/runtime/schema"
)

func TestIstiodObjectNamesTheControlPlanesOwn(t *testing.T) {
	cm := schema.GroupKind{Kind: "ConfigMap"}
	for _, tc := range []struct {
		gk     schema.GroupKind
		name   string
		labels map[string]string
		want   bool
	}{
		{cm, "istio-asm-1-29", nil, true},
		{cm, "istio-sidecar-injector-asm-1-29", nil, true},
		{cm, "istio-sidecar-injector", nil, true},
		{cm, "istio", nil, true},
		{cm, "istio-ca-root-cert", nil, true},
		{cm, "values-asm-1-28", nil, true},
		{cm, "values", nil, true},
		{cm, "my-config", map[string]string{"app": "istiod"}, true},
		{cm, "my-config", map[string]string{"app": "sidecar-injector"}, true},
		{cm, "my-config", map[string]string{"operator.istio.io/component": "Pilot"}, true},
		{cm, "my-config", map[string]string{"install.operator.istio.io/owning-resource": "x"}, true},
		{cm, "my-config", map[string]string{"istio": "pilot"}, true},
		{deploymentGK, "istiod-asm-1-29", nil, true},
		{deploymentGK, "istiod", nil, true},
		{serviceGK, "istiod-asm-1-29", nil, true},
		{mutatingWebhookGK, "istio-sidecar-injector-asm-1-29-aks-istio-system", nil, true},
		{mutatingWebhookGK, "istio-revision-tag-prod-stable-aks-istio-system", nil, true},
		{validatingWebhookGK, "istio-validator-asm-1-29-aks-istio-system", nil, true},
		{validatingWebhookGK, "istiod-default-validator", nil, true},

		// The add-on leaves the shared ConfigMap to its users, and the
		// revision label alone marks no ownership (the shared one has it).
		{cm, "istio-shared-configmap-asm-1-29", map[string]string{RevisionLabel: "asm-1-29"}, false},
		{cm, "my-config", map[string]string{"app": "frontend"}, false},
		{cm, "istiod-notes", nil, false},
		{deploymentGK, "frontend", nil, false},
		{serviceGK, "istio-ingressgateway", nil, false},
		{schema.GroupKind{Group: "security.istio.io", Kind: "AuthorizationPolicy"}, "istio-asm-1-29", nil, false},
	} {
		why, got := IstiodObject(tc.gk, tc.name, tc.labels)
		if got != tc.want || (got && why == "") {
			t.Errorf("IstiodObject(%s, %s, %v) = %q, %v; want %v", tc.gk, tc.name, tc.labels, why, got, tc.want)
		}
	}
}
