package redact

import "testing"

// What masking costs per object of a plan: an ALLOW policy with principals
// and paths, the shape of most of a fleet's 10,000 policies.
func BenchmarkTreeOfAnAuthorizationPolicy(b *testing.B) {
	policy := func() map[string]any {
		return map[string]any{
			"apiVersion": "security.istio.io/v1", "kind": "AuthorizationPolicy",
			"spec": map[string]any{
				"action":   "ALLOW",
				"selector": map[string]any{"matchLabels": map[string]any{"app": "maestro-api"}},
				"rules": []any{map[string]any{
					"from": []any{map[string]any{"source": map[string]any{"principals": []any{
						"cluster.local/ns/aro-hcp/sa/frontend", "cluster.local/ns/clusters-service/sa/clusters-service"}}}},
					"to":   []any{map[string]any{"operation": map[string]any{"methods": []any{"GET", "POST"}, "paths": []any{"/api/v1/*", "/healthz"}}}},
					"when": []any{map[string]any{"key": "request.headers[x-ms-client-request-id]", "values": []any{"*"}}},
				}},
			},
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		Tree("", policy())
	}
}
