package configs

import "testing"

func TestManagedKinds(t *testing.T) {
	gvks := ManagedKinds()
	seen := map[string]bool{}
	for _, g := range gvks {
		seen[g.GroupVersion().String()+"/"+g.Kind] = true
	}
	for _, want := range []string{
		"security.istio.io/v1/AuthorizationPolicy", "security.istio.io/v1beta1/PeerAuthentication",
		"security.istio.io/v1/RequestAuthentication", "networking.istio.io/v1/Gateway",
		"networking.istio.io/v1beta1/VirtualService", "networking.istio.io/v1/ServiceEntry",
		"networking.istio.io/v1/DestinationRule", "telemetry.istio.io/v1/Telemetry",
		"gateway.networking.k8s.io/v1/Gateway", "gateway.networking.k8s.io/v1/HTTPRoute", "v1/ConfigMap",
	} {
		if !seen[want] {
			t.Errorf("ManagedKinds lacks %s", want)
		}
	}
	if seen["apps/v1/Deployment"] {
		t.Error("Deployment must not be managed")
	}
	if (Context{Cloud: "dev", Environment: "ci00"}).String() != "dev/ci00" || (Context{}).String() != "defaults only" {
		t.Error("Context.String")
	}
}
