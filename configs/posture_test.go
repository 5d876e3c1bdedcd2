package configs

import (
	"context"
	"maps"
	"strings"
	"testing"
)

// What the posture rules leave alone: an exempted object with a reason,
// ALLOW-all and PERMISSIVE outside the root namespace, the ingress
// gateway's namespace for injection, and the shared ConfigMap.
func TestPostureRulesAllowWhatIsExemptOrLocal(t *testing.T) {
	files := maps.Clone(goodRepo)
	files["mesh/istio.yaml"] = strings.Replace(goodRepo["mesh/istio.yaml"], "mode: STRICT", "mode: PERMISSIVE", 1)
	files["meshops.yaml"] = `cloud: dev
environment: dev
meshops:
  namespaces: [app, aks-istio-ingress]
  postureExemptions:
  - object: PeerAuthentication/aks-istio-system/default
    reason: migrating the last plain-text clients until 2027-01
`
	files["mesh/local.yaml"] = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: allow-all, namespace: app}
spec:
  rules: [{}]
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: legacy, namespace: app}
spec:
  selector: {matchLabels: {app: legacy}}
  mtls: {mode: PERMISSIVE}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: narrow, namespace: aks-istio-system}
spec:
  rules:
  - from: [{source: {principals: ['*']}}]
    to: [{operation: {paths: [/healthz]}}]
`
	opts := DefaultOptions()
	opts.RepoPath = writeFiles(t, files)
	c, err := Load(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Settings.Extensions.PostureExemptions; len(got) != 1 || got[0].Object != "PeerAuthentication/aks-istio-system/default" {
		t.Errorf("exemptions = %+v", got)
	}
}

func TestPostureExemptionsOfTheWrongShape(t *testing.T) {
	const head = "cloud: dev\nenvironment: dev\nmeshops:\n  namespaces: [app]\n"
	for _, tc := range []struct{ src, want string }{
		{"  postureExemptions: {object: x}\n", `meshops.yaml:5: meshops.postureExemptions: expected a list of {object, reason}, got a mapping`},
		{"  postureExemptions:\n  - object: x\n    why: y\n", `meshops.yaml:7: meshops.postureExemptions[0].why: unknown field "why"`},
		{"  postureExemptions:\n  - reason: y\n", `meshops.yaml:6: meshops.postureExemptions[0].object: a posture exemption needs an object`},
	} {
		files := maps.Clone(goodRepo)
		files["meshops.yaml"] = head + tc.src
		opts := DefaultOptions()
		opts.RepoPath = writeFiles(t, files)
		_, err := Load(context.Background(), opts)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want %q", tc.src, err, tc.want)
		}
	}
}
