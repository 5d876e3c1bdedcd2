package configs

import (
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/runtime/schema"
)

// managedKind is one kind meshops applies, with the API versions it accepts.
type managedKind struct {
	group    string
	kind     string
	versions []string
	// schema is the kind's OpenAPI schema, the same for every version
	// (schema.go).
	schema func() *shape
}

// managedKinds is everything meshops will apply from the manifests folder.
// Anything else is refused: meshops owns the mesh's policy and routing, not
// workloads, and pruning must never reach objects it was not meant to own.
// ConfigMaps are further limited to the Istio system namespace (validate.go).
var managedKinds = []managedKind{
	{"security.istio.io", "AuthorizationPolicy", []string{"v1", "v1beta1"}, authorizationPolicySchema},
	{"security.istio.io", "PeerAuthentication", []string{"v1", "v1beta1"}, peerAuthenticationSchema},
	{"security.istio.io", "RequestAuthentication", []string{"v1", "v1beta1"}, requestAuthenticationSchema},
	{"networking.istio.io", "Gateway", []string{"v1", "v1beta1", "v1alpha3"}, istioGatewaySchema},
	{"networking.istio.io", "VirtualService", []string{"v1", "v1beta1", "v1alpha3"}, virtualServiceSchema},
	{"networking.istio.io", "ServiceEntry", []string{"v1", "v1beta1", "v1alpha3"}, serviceEntrySchema},
	{"networking.istio.io", "DestinationRule", []string{"v1", "v1beta1", "v1alpha3"}, destinationRuleSchema},
	{"telemetry.istio.io", "Telemetry", []string{"v1", "v1alpha1"}, telemetrySchema},
	{"gateway.networking.k8s.io", "Gateway", []string{"v1", "v1beta1"}, gatewayAPIGatewaySchema},
	{"gateway.networking.k8s.io", "HTTPRoute", []string{"v1", "v1beta1"}, httpRouteSchema},
	{"", "ConfigMap", []string{"v1"}, configMapSchema},
}

// ManagedKinds returns every group, version and kind meshops accepts in
// manifests, e.g. for a prune inventory.
func ManagedKinds() []schema.GroupVersionKind {
	var out []schema.GroupVersionKind
	for _, k := range managedKinds {
		for _, v := range k.versions {
			out = append(out, schema.GroupVersionKind{Group: k.group, Version: v, Kind: k.kind})
		}
	}
	return out
}

// findKind looks a kind up by group; nil when meshops does not manage it.
func findKind(group, kind string) *managedKind {
	for i := range managedKinds {
		if managedKinds[i].group == group && managedKinds[i].kind == kind {
			return &managedKinds[i]
		}
	}
	return nil
}

// managedKindList names the managed kinds for messages.
func managedKindList() string {
	var names []string
	for _, k := range managedKinds {
		name := k.kind
		if k.group != "" {
			name += "." + k.group
		}
		names = append(names, name)
	}
	slices.Sort(names)
	return strings.Join(names, ", ")
}

// Group kinds the rules single out.
var (
	authorizationPolicyGK = schema.GroupKind{Group: "security.istio.io", Kind: "AuthorizationPolicy"}
	peerAuthenticationGK  = schema.GroupKind{Group: "security.istio.io", Kind: "PeerAuthentication"}
	configMapGK           = schema.GroupKind{Kind: "ConfigMap"}
)
