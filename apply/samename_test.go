package apply_test

import (
	"context"
	"fmt"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// An Istio Gateway and a Gateway API Gateway of the same name are two
// objects: both apply, and a second sync finds both in place (#17: object
// ids without the API group made them collide).
func TestAnIstioGatewayAndAGatewayAPIGatewayOfTheSameNameBothApply(t *testing.T) {
	ctx := context.Background()
	f := newMesh(t, 1)
	ns := f.namespaces[0]
	istioGW := fmt.Sprintf(`apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: ingress, namespace: %s}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ["*"]
`, ns)
	apiGW := fmt.Sprintf(`apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: ingress, namespace: %s}
spec:
  gatewayClassName: istio
  listeners:
  - name: http
    port: 80
    protocol: HTTP
`, ns)
	f.writeRepo("asm-1-29", istioGW, apiGW)
	f.onTag("asm-1-29")
	if _, _, err := f.sync(ctx, "c1", nil); err != nil {
		t.Fatalf("sync: %v", err)
	}
	for _, gvk := range []schema.GroupVersionKind{
		{Group: "networking.istio.io", Version: "v1", Kind: "Gateway"},
		{Group: "gateway.networking.k8s.io", Version: "v1", Kind: "Gateway"},
	} {
		u := &unstructured.Unstructured{}
		u.SetGroupVersionKind(gvk)
		if err := f.cluster.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "ingress"}, u); err != nil {
			t.Errorf("%s ingress: %v", gvk.GroupKind(), err)
		}
	}
	p := f.plan(f.config(), "c1")
	if p.Pending() {
		t.Errorf("second plan not in sync: %s (%s)", p.Scenario, p.Reason)
	}
}
