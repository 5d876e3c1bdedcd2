package configs

import (
	"context"
	"errors"
	"maps"
	"strings"
	"testing"
)

// schemaCase is a manifest that breaks its kind's schema.
type schemaCase struct {
	name string
	file string
	want []wantProblem
	fix  string // a substring of the first problem's Fix
}

const badHTTPRoute = "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: r, namespace: app}\nspec:\n  parentRefs: [{name: gw, namespace: aks-istio-ingress}]\n  rules:\n  - matches:\n    - path: {type: PathPrefix, value: /api}\n"

var schemaCases = []schemaCase{
	{
		// The policy would be an ALLOW policy: action defaults to ALLOW.
		name: "typo of a field that turns a DENY into an ALLOW",
		file: policy("p", "  actoin: DENY\n  rules: [{from: [{source: {namespaces: [web]}}]}]\n"),
		want: []wantProblem{{"mesh/bad.yaml", 7, "spec.actoin", `unknown field "actoin"`}},
		fix:  "did you mean spec.action?",
	},
	{
		name: "unknown field deep in a rule",
		file: policy("p", "  rules:\n  - from:\n    - source:\n        principal: [cluster.local/ns/web/sa/frontend]\n"),
		want: []wantProblem{{"mesh/bad.yaml", 10, "spec.rules[0].from[0].source.principal", `unknown field "principal"`}},
		fix:  "did you mean spec.rules[0].from[0].source.principals?",
	},
	{
		name: "unknown field with nothing close to it",
		file: policy("p", "  rules:\n  - when: [{key: \"request.auth.claims[iss]\", values: [x], owner: me}]\n"),
		want: []wantProblem{{"mesh/bad.yaml", 8, "spec.rules[0].when[0].owner", `unknown field "owner"`}},
		fix:  "remove it, or use one of: key, notValues, values",
	},
	{
		name: "unknown field at the top of the object",
		file: policy("p", "  action: DENY\n  rules: [{}]\nspecs: {}\n"),
		want: []wantProblem{{"mesh/bad.yaml", 9, "specs", `unknown field "specs"`}},
		fix:  "did you mean spec?",
	},
	{
		name: "unknown field in metadata",
		file: "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata:\n  name: p\n  namespace: app\n  label: {a: b}\nspec: {action: DENY, rules: [{}]}\n",
		want: []wantProblem{{"mesh/bad.yaml", 6, "metadata.label", `unknown field "label"`}},
		fix:  "did you mean metadata.labels?",
	},
	{
		name: "wrong type: a string where a list goes",
		file: policy("p", "  action: DENY\n  rules:\n  - to:\n    - operation: {methods: DELETE}\n"),
		want: []wantProblem{{"mesh/bad.yaml", 10, "spec.rules[0].to[0].operation.methods", `expected a list, got the string "DELETE"`}},
	},
	{
		name: "wrong type: a quoted number",
		file: "apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: {name: gw, namespace: app}\nspec:\n  servers:\n  - port: {number: \"443\", name: https, protocol: HTTPS}\n    hosts: [\"*\"]\n",
		want: []wantProblem{{"mesh/bad.yaml", 6, "spec.servers[0].port.number", `expected a whole number, got the string "443"`}},
	},
	{
		name: "enum value Istio does not know",
		file: "apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: p, namespace: app}\nspec:\n  mtls:\n    mode: FOO\n",
		want: []wantProblem{{"mesh/bad.yaml", 6, "spec.mtls.mode", `expected one of UNSET, DISABLE, PERMISSIVE, STRICT; got "FOO"`}},
		fix:  "use one of UNSET, DISABLE, PERMISSIVE, STRICT",
	},
	{
		name: "enum value in a port-level map",
		file: "apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: p, namespace: app}\nspec:\n  portLevelMtls:\n    \"8080\": {mode: STRCT}\n",
		want: []wantProblem{{"mesh/bad.yaml", 6, "spec.portLevelMtls.8080.mode", `got "STRCT"`}},
		fix:  "did you mean STRICT?",
	},
	{
		name: "two fields of one oneof",
		file: "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: vs, namespace: app}\nspec:\n  hosts: [api]\n  http:\n  - match:\n    - uri: {exact: /a, prefix: /b}\n    route: [{destination: {host: api}}]\n",
		want: []wantProblem{{"mesh/bad.yaml", 8, "spec.http[0].match[0].uri.prefix", "prefix cannot be set together with exact"}},
	},
	{
		name: "Gateway API HTTPRoute with an unknown field",
		file: badHTTPRoute + "      header: {name: x-tenant, value: a}\n    backendRefs: [{name: api, port: 8080}]\n    retries: 3\n",
		want: []wantProblem{
			{"mesh/bad.yaml", 9, "spec.rules[0].matches[0].header", `unknown field "header"`},
			{"mesh/bad.yaml", 11, "spec.rules[0].retries", `unknown field "retries"`},
		},
		fix: "did you mean spec.rules[0].matches[0].headers?",
	},
	{
		name: "Gateway API HTTPRoute with a typo",
		file: badHTTPRoute + "    backendRef: [{name: api, port: 8080}]\n",
		want: []wantProblem{{"mesh/bad.yaml", 9, "spec.rules[0].backendRef", `unknown field "backendRef"`}},
		fix:  "did you mean spec.rules[0].backendRefs?",
	},
	{
		name: "Gateway API port as a string",
		file: badHTTPRoute + "    backendRefs: [{name: api, port: http}]\n",
		want: []wantProblem{{"mesh/bad.yaml", 9, "spec.rules[0].backendRefs[0].port", `expected a whole number, got the string "http"`}},
	},
	{
		name: "ConfigMap data that is not text",
		file: "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings, namespace: aks-istio-system}\ndata:\n  mesh:\n    extensionProviders: []\n",
		want: []wantProblem{{"mesh/bad.yaml", 6, "data.mesh", "expected a string, got a mapping"}},
		fix:  "mesh: |-",
	},
}

// A manifest that breaks its kind's schema fails Load with the file, line
// and field, before any cluster is involved.
func TestSchemaRefusesBadManifests(t *testing.T) {
	for _, tt := range schemaCases {
		t.Run(tt.name, func(t *testing.T) {
			probs := loadWantProblems(t, map[string]string{"mesh/bad.yaml": tt.file}, tt.want)
			if len(probs) > 0 && !strings.Contains(probs[0].Fix, tt.fix) {
				t.Errorf("fix %q, want it to say %q", probs[0].Fix, tt.fix)
			}
		})
	}
}

// sameNameGateways is an Istio Gateway and a Gateway API Gateway, both
// valid, of the same name.
const sameNameGateways = `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: ingress, namespace: app}
spec:
  selector: {istio: aks-istio-ingressgateway-external}
  servers:
  - port: {number: 443, name: https, protocol: HTTPS}
    hosts: ["*.example.com"]
    tls: {mode: SIMPLE, credentialName: tls-cert}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: ingress, namespace: app}
spec:
  gatewayClassName: istio
  listeners:
  - name: https
    port: 443
    protocol: HTTPS
    hostname: "*.example.com"
    tls:
      mode: Terminate
      certificateRefs: [{name: tls-cert}]
`

// The schema is chosen by group and kind: Istio's Gateway and the Gateway
// API's Gateway have different fields, and one of each with the same name
// is two objects.
func TestSchemaTellsIstioAndGatewayAPIGatewaysApart(t *testing.T) {
	files := maps.Clone(goodRepo)
	files["mesh/gateways.yaml"] = sameNameGateways
	opts := DefaultOptions()
	opts.RepoPath = writeFiles(t, files)
	c, err := Load(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	groups := map[string]bool{}
	for _, m := range c.Manifests {
		if m.GetKind() == "Gateway" && m.GetName() == "ingress" {
			groups[m.GroupKind().Group] = true
		}
	}
	if !groups["networking.istio.io"] || !groups["gateway.networking.k8s.io"] {
		t.Errorf("loaded Gateways of groups %v, want both", groups)
	}

	// Each kind's fields are refused by the other's schema.
	files["mesh/gateways.yaml"] = strings.Replace(files["mesh/gateways.yaml"], "  gatewayClassName: istio\n", "  gatewayClassName: istio\n  servers: []\n", 1)
	opts.RepoPath = writeFiles(t, files)
	_, err = Load(context.Background(), opts)
	var probs Problems
	if !errors.As(err, &probs) || len(probs) != 1 || probs[0].Line != 16 || probs[0].Field != "spec.servers" {
		t.Errorf("Load = %v, want one problem: mesh/gateways.yaml:16: spec.servers: unknown field", err)
	}
}

func TestEditDistanceCountsASwapOnce(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"actoin", "action", 1},
		{"principal", "principals", 1},
		{"mode", "mode", 0},
		{"selector", "selectr", 1},
		{"owner", "values", 3}, // capped at the limit
		{"", "ab", 2},
	}
	for _, tt := range tests {
		if got := editDistance(tt.a, tt.b, 3); got != tt.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}

// A long key is quoted clipped, and finding a near field for it costs
// nothing: the edit distance gives up on lengths that differ by three.
func TestSchemaClipsALongKey(t *testing.T) {
	key := strings.Repeat("a", 1000) // YAML allows at most 1024 in an implicit key
	files := maps.Clone(goodRepo)
	files["mesh/bad.yaml"] = policy("p", "  "+key+": DENY\n")
	opts := DefaultOptions()
	opts.RepoPath = writeFiles(t, files)
	_, err := Load(context.Background(), opts)
	var probs Problems
	if !errors.As(err, &probs) || len(probs) != 1 {
		t.Fatalf("Load = %v, want one problem", err)
	}
	if got := probs[0].Message; len(got) > clipLength+30 || !strings.HasPrefix(got, "unknown field") {
		t.Errorf("message of %d bytes: %.300s", len(got), got)
	}
}
