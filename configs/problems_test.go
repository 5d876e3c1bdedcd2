package configs

import (
	"context"
	"errors"
	"maps"
	"strings"
	"testing"
)

// A small repo that validates clean; each bad-input case below changes one
// thing in it.
var goodRepo = map[string]string{
	"meshops.yaml": `cloud: dev
environment: dev
meshops:
  namespaces: [app]
`,
	"config/config.yaml": `defaults:
  svc:
    istio:
      versions: "asm-1-28,asm-1-29"
      targetVersion: asm-1-29
      tag: prod-stable
clouds:
  dev:
    environments:
      dev: {}
`,
	"mesh/istio.yaml": `apiVersion: v1
kind: ConfigMap
metadata:
  name: istio-shared-configmap-{{ .Revision }}
  namespace: aks-istio-system
  labels:
    istio.io/rev: "{{ .Revision }}"
data:
  mesh: |
    extensionProviders:
    - name: ext-authz
      envoyExtAuthzHttp: {service: authz.authz.svc.cluster.local, port: 8080}
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata:
  name: default
  namespace: aks-istio-system
spec:
  mtls: {mode: STRICT}
`,
	"mesh/app.yaml": `---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: allow-nothing
  namespace: app
spec: {}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: allow-frontend
  namespace: app
spec:
  action: ALLOW
  rules:
  - from:
    - source:
        principals: ["cluster.local/ns/web/sa/frontend"]
        namespaces: ["aks-istio-ingress"]
  selector:
    matchLabels: {app: api}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: ext-authz
  namespace: app
spec:
  action: CUSTOM
  provider:
    name: ext-authz
  rules:
  - to:
    - operation: {paths: ["/api/*"]}
`,
}

// policy returns an AuthorizationPolicy document in namespace app whose spec
// starts on line 6 of the file.
func policy(name, spec string) string {
	return "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata:\n  name: " + name + "\n  namespace: app\nspec:\n" + spec
}

const valuesHead = "defaults:\n  svc:\n    istio:\n"

// values returns a values file whose svc.istio holds body (starting on line
// 4), with the dev/dev layers meshops.yaml asks for.
func values(body string) string {
	return valuesHead + body + "clouds:\n  dev:\n    environments:\n      dev: {}\n"
}

type wantProblem struct {
	file  string
	line  int
	field string
	msg   string // a substring of Message
}

func TestGoodRepoIsClean(t *testing.T) {
	opts := DefaultOptions()
	opts.RepoPath = writeFiles(t, goodRepo)
	c, err := Load(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Manifests) != 6 {
		t.Errorf("%d manifests, want 6", len(c.Manifests))
	}
}

func TestBadInputs(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string // replaces files of goodRepo; "" deletes one
		want  []wantProblem
	}{
		{
			name:  "malformed YAML in a manifest",
			files: map[string]string{"mesh/bad.yaml": "---\napiVersion: v1\nkind: [ConfigMap\n"},
			want:  []wantProblem{{"mesh/bad.yaml", 3, "", "document 0: not valid YAML: did not find expected ',' or ']'"}},
		},
		{
			name:  "malformed YAML in the values",
			files: map[string]string{"config/config.yaml": values("      versions: asm-1-29\n     tag: x\n")},
			want:  []wantProblem{{"config/config.yaml", 3, "", "not valid YAML: did not find expected key"}}, // the mapping the stray key breaks
		},
		{
			name:  "malformed YAML in meshops.yaml",
			files: map[string]string{"meshops.yaml": "cloud: dev\n\tenvironment: dev\n"},
			want:  []wantProblem{{"meshops.yaml", 2, "", "not valid YAML: found a tab character"}},
		},
		{
			name:  "versions of the wrong type",
			files: map[string]string{"config/config.yaml": values("      versions: 5\n      tag: prod-stable\n")},
			want:  []wantProblem{{"config/config.yaml", 4, "svc.istio.versions", `expected a comma-separated string ("asm-1-28,asm-1-29") or a list, got the number 5`}},
		},
		{
			name:  "restart batch size of the wrong type",
			files: map[string]string{"meshops.yaml": "meshops:\n  namespaces: [app]\n  restart:\n    batchSize: two\n"},
			want:  []wantProblem{{"meshops.yaml", 4, "meshops.restart.batchSize", `expected a whole number, got the string "two"`}},
		},
		{
			name:  "label value of the wrong type",
			files: map[string]string{"mesh/bad.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n  namespace: aks-istio-system\n  labels:\n    team: 7\n"},
			want:  []wantProblem{{"mesh/bad.yaml", 7, "metadata.labels.team", "expected a string, got the number 7"}},
		},
		{
			name:  "unknown revision name",
			files: map[string]string{"config/config.yaml": values("      versions: asm-1-29, istio-1.30\n      targetVersion: asm-1-29\n      tag: prod-stable\n")},
			want:  []wantProblem{{"config/config.yaml", 4, "svc.istio.versions", `revision "istio-1.30" does not match the pattern "asm-<major>-<minor>" (e.g. "asm-1-29")`}},
		},
		{
			name:  "targetVersion not in versions",
			files: map[string]string{"config/config.yaml": values("      versions: asm-1-28,asm-1-29\n      targetVersion: asm-1-30\n      tag: prod-stable\n")},
			want:  []wantProblem{{"config/config.yaml", 5, "svc.istio.targetVersion", `targetVersion "asm-1-30" is not one of versions (asm-1-28, asm-1-29)`}},
		},
		{
			name:  "public IP name without its resource group",
			files: map[string]string{"config/config.yaml": values("      versions: asm-1-29\n      tag: prod-stable\n      ingressGatewayIPAddressName: aro-hcp-istio-ingress\n")},
			want:  []wantProblem{{"config/config.yaml", 6, "regionRG", "ingressGatewayIPAddressName is set but regionRG is not"}},
		},
		{
			name:  "two versions and no target",
			files: map[string]string{"config/config.yaml": values("      versions: asm-1-28,asm-1-29\n      tag: prod-stable\n")},
			want:  []wantProblem{{"config/config.yaml", 3, "svc.istio.targetVersion", "no targetVersion and versions lists 2 revisions (asm-1-28, asm-1-29): meshops cannot choose"}},
		},
		{
			name:  "one version and no target is fine, but no tag is not",
			files: map[string]string{"config/config.yaml": values("      versions: asm-1-29\n")},
			want:  []wantProblem{{"config/config.yaml", 3, "svc.istio.tag", "no tag, but meshops.namespaces lists app to be labelled istio.io/rev=<tag>"}},
		},
		{
			name:  "tag equal to a revision name",
			files: map[string]string{"config/config.yaml": values("      versions: asm-1-28,asm-1-29\n      targetVersion: asm-1-29\n      tag: asm-1-28\n")},
			want:  []wantProblem{{"config/config.yaml", 6, "svc.istio.tag", `tag "asm-1-28" is a revision name`}},
		},
		{
			name:  "template over a missing value that meshops reads",
			files: map[string]string{"config/config.yaml": values("      versions: asm-1-29\n      tag: \"{{ .ev2.istioTag }}\"\n      other: \"{{ .ev2.unrelated }}\"\n")},
			want: []wantProblem{
				{"config/config.yaml", 5, "svc.istio.tag", `value needs the template {{.ev2.istioTag}}, which meshops cannot render: map has no entry for key "ev2"`},
			},
		},
		{
			name:  "namespace without default deny",
			files: map[string]string{"mesh/web.yaml": "# routes only\napiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata:\n  name: web\n  namespace: web\nspec: {hosts: [web]}\n"},
			want:  []wantProblem{{"mesh/web.yaml", 6, "metadata.namespace", "namespace web has no default-deny AuthorizationPolicy (an ALLOW policy with an empty spec)"}},
		},
		{
			name:  "ALLOW policy with a selector is no default deny",
			files: map[string]string{"mesh/app.yaml": policy("allow-api", "  action: ALLOW\n  selector: {matchLabels: {app: api}}\n  rules: [{}]\n")},
			want:  []wantProblem{{"mesh/app.yaml", 5, "metadata.namespace", "namespace app has no default-deny AuthorizationPolicy (an ALLOW policy with an empty spec); its 1 ALLOW policies do not replace it"}},
		},
		{
			name:  "listed namespace without any manifest",
			files: map[string]string{"meshops.yaml": "meshops:\n  namespaces:\n  - app\n  - billing\n"},
			want:  []wantProblem{{"meshops.yaml", 4, "meshops.namespaces[1]", "namespace billing has no default-deny AuthorizationPolicy"}},
		},
		{
			name:  "principal with a spiffe:// prefix",
			files: map[string]string{"mesh/bad.yaml": policy("p", "  rules:\n  - from:\n    - source:\n        principals:\n        - spiffe://cluster.local/ns/web/sa/frontend\n")},
			want:  []wantProblem{{"mesh/bad.yaml", 11, "spec.rules[0].from[0].source.principals[0]", `"spiffe://cluster.local/ns/web/sa/frontend": Istio principals are written without the spiffe:// scheme`}},
		},
		{
			name:  "principal without trust domain",
			files: map[string]string{"mesh/bad.yaml": policy("p", "  rules:\n  - from:\n    - source:\n        notPrincipals: [ns/web/sa/frontend]\n")},
			want:  []wantProblem{{"mesh/bad.yaml", 10, "spec.rules[0].from[0].source.notPrincipals[0]", "the trust domain is missing (e.g. cluster.local/ns/web/sa/frontend)"}},
		},
		{
			name:  "principal with a wildcard in the middle",
			files: map[string]string{"mesh/bad.yaml": policy("p", "  rules:\n  - from:\n    - source:\n        principals: [\"cluster.local/ns/*/sa/x\"]\n")},
			want:  []wantProblem{{"mesh/bad.yaml", 10, "spec.rules[0].from[0].source.principals[0]", `accepts "*" only as the whole value, as a prefix or as a suffix`}},
		},
		{
			name:  "source namespace that is not a name",
			files: map[string]string{"mesh/bad.yaml": policy("p", "  rules:\n  - from:\n    - source:\n        namespaces: [Web_Team]\n")},
			want:  []wantProblem{{"mesh/bad.yaml", 10, "spec.rules[0].from[0].source.namespaces[0]", `"Web_Team": not a valid namespace name`}},
		},
		{
			name:  "duplicate objects across files and API versions",
			files: map[string]string{"mesh/bad.yaml": strings.Replace(policy("allow-nothing", "  {}\n"), "security.istio.io/v1", "security.istio.io/v1beta1", 1)},
			want:  []wantProblem{{"mesh/bad.yaml", 4, "metadata.name", "AuthorizationPolicy/app/allow-nothing is defined twice: also at mesh/app.yaml:1"}},
		},
		{
			name: "per-revision document without the revision in its name",
			files: map[string]string{"mesh/bad.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: shared\n  namespace: aks-istio-system\n" +
				"  labels: {rev: \"{{ .Revision }}\"}\n"},
			want: []wantProblem{{"mesh/bad.yaml", 4, "metadata.name", "ConfigMap/aks-istio-system/shared is defined twice: also at mesh/bad.yaml:1 (revision asm-1-28)"}},
		},
		{
			name:  "template over a missing value in a manifest",
			files: map[string]string{"mesh/bad.yaml": "---\n# c\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x-{{ .Tag }}\n  namespace: aks-istio-system\n"},
			want:  []wantProblem{{"mesh/bad.yaml", 6, "", `template over a missing value: can't evaluate field Tag`}},
		},
		{
			name:  "template syntax error in a manifest",
			files: map[string]string{"mesh/bad.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x-{{ .Revision\n"},
			want:  []wantProblem{{"mesh/bad.yaml", 5, "", "template does not parse: unclosed action started at mesh/bad.yaml:4"}},
		},
		{
			name:  "unsupported kind",
			files: map[string]string{"mesh/bad.yaml": "---\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x, namespace: app}\n"},
			want:  []wantProblem{{"mesh/bad.yaml", 4, "kind", "document 1: kind Deployment (apiVersion apps/v1) is not managed by meshops"}},
		},
		{
			name:  "unsupported API version of a managed kind",
			files: map[string]string{"mesh/bad.yaml": strings.Replace(policy("p", "  {}\n"), "security.istio.io/v1", "security.istio.io/v2", 1)},
			want:  []wantProblem{{"mesh/bad.yaml", 1, "apiVersion", `security.istio.io does not serve AuthorizationPolicy at version "v2"`}},
		},
		{
			name:  "CUSTOM with an unknown provider",
			files: map[string]string{"mesh/bad.yaml": policy("p", "  action: CUSTOM\n  provider: {name: opa}\n  rules: [{}]\n")},
			want:  []wantProblem{{"mesh/bad.yaml", 8, "spec.provider.name", `provider "opa" is not declared in the mesh config of revisions asm-1-28, asm-1-29 (declared there: ext-authz)`}},
		},
		{
			name: "CUSTOM with a provider only one revision declares",
			files: map[string]string{"mesh/istio.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: istio-shared-configmap-asm-1-29\n  namespace: aks-istio-system\n" +
				"data:\n  mesh: |\n    extensionProviders:\n    - name: ext-authz\n"},
			want: []wantProblem{{"mesh/app.yaml", 32, "spec.provider.name", `provider "ext-authz" is not declared in the mesh config of revision asm-1-28 (declared there: none)`}},
		},
		{
			name:  "CUSTOM without a provider",
			files: map[string]string{"mesh/bad.yaml": policy("p", "  action: CUSTOM\n  rules: [{}]\n")},
			want:  []wantProblem{{"mesh/bad.yaml", 7, "spec.provider.name", "a CUSTOM policy must name a provider"}},
		},
		{
			name:  "action that Istio does not know",
			files: map[string]string{"mesh/bad.yaml": policy("p", "  action: MAYBE\n")},
			want:  []wantProblem{{"mesh/bad.yaml", 7, "spec.action", `expected one of ALLOW, DENY, AUDIT, CUSTOM; got "MAYBE"`}},
		},
		{
			name:  "missing metadata.namespace",
			files: map[string]string{"mesh/bad.yaml": "apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata:\n  name: gw\nspec: {}\n"},
			want:  []wantProblem{{"mesh/bad.yaml", 3, "metadata.namespace", "Gateway/gw has no namespace, and Gateway is namespaced"}},
		},
		{
			name:  "ConfigMap outside the Istio system namespace",
			files: map[string]string{"mesh/bad.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n  namespace: app\n"},
			want:  []wantProblem{{"mesh/bad.yaml", 5, "metadata.namespace", "meshops manages ConfigMaps only in the Istio system namespace aks-istio-system"}},
		},
		{
			name:  "shared ConfigMap of a revision not in versions",
			files: map[string]string{"mesh/bad.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: istio-shared-configmap-asm-1-27\n  namespace: aks-istio-system\n"},
			want:  []wantProblem{{"mesh/bad.yaml", 4, "metadata.name", "is for revision asm-1-27, which is not in svc.istio.versions (asm-1-28, asm-1-29)"}},
		},
		{
			name:  "PeerAuthentication mode in lower case",
			files: map[string]string{"mesh/bad.yaml": "apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: p, namespace: app}\nspec:\n  mtls:\n    mode: strict\n"},
			want:  []wantProblem{{"mesh/bad.yaml", 6, "spec.mtls.mode", `expected one of UNSET, DISABLE, PERMISSIVE, STRICT; got "strict"`}},
		},
		{
			name:  "document that is not an object",
			files: map[string]string{"mesh/bad.yaml": "# a list by mistake\n- apiVersion: v1\n"},
			want:  []wantProblem{{"mesh/bad.yaml", 2, "", "document 0: expected a Kubernetes object (a mapping), got a list"}},
		},
		{
			name:  "missing apiVersion",
			files: map[string]string{"mesh/bad.yaml": "kind: Telemetry\nmetadata: {name: t, namespace: app}\n"},
			want:  []wantProblem{{"mesh/bad.yaml", 1, "apiVersion", "document 0: missing apiVersion"}},
		},
		{
			name:  "key written twice",
			files: map[string]string{"mesh/bad.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  name: b\n"},
			want:  []wantProblem{{"mesh/bad.yaml", 5, "", `document 0: key "name" is already defined at line 4`}},
		},
		{
			name:  "unknown field in meshops.yaml",
			files: map[string]string{"meshops.yaml": "cloud: dev\nenvironment: dev\nmeshops:\n  namespaces: [app]\n  autoRollbak: false\n"},
			want:  []wantProblem{{"meshops.yaml", 5, "meshops.autoRollbak", `unknown field "autoRollbak"`}},
		},
		{
			name:  "exemption without a reason",
			files: map[string]string{"meshops.yaml": "meshops:\n  namespaces: [app]\n  defaultDenyExemptions:\n  - namespace: legacy\n"},
			want:  []wantProblem{{"meshops.yaml", 4, "meshops.defaultDenyExemptions[0].reason", "an exemption from default deny needs a reason"}},
		},
		{
			name:  "bad revision pattern",
			files: map[string]string{"meshops.yaml": "meshops:\n  namespaces: [app]\n  revisionPattern: asm-<major>\n"},
			want:  []wantProblem{{"meshops.yaml", 3, "meshops.revisionPattern", "needs both <major> and <minor>"}},
		},
		{
			name:  "upstream revision names with the default pattern",
			files: map[string]string{"config/config.yaml": values("      versions: 1-29-0\n      tag: prod-stable\n")},
			want: []wantProblem{
				{"config/config.yaml", 4, "svc.istio.versions", `revision "1-29-0" does not match the pattern "asm-<major>-<minor>"`},
			},
		},
		{
			name:  "unknown cloud",
			files: map[string]string{"meshops.yaml": "cloud: prod\nmeshops:\n  namespaces: [app]\n"},
			want:  []wantProblem{{"config/config.yaml", 7, "clouds", `cloud "prod" is not in the values file (clouds: dev)`}},
		},
		{
			name:  "values file missing",
			files: map[string]string{"config/config.yaml": ""},
			want:  []wantProblem{{"config/config.yaml", 0, "", "values file not found"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { loadWantProblems(t, tt.files, tt.want) })
	}
}

// loadWantProblems loads goodRepo with files replaced ("" deletes one) and
// checks that Load reports exactly want, in order, each with a fix.
func loadWantProblems(t *testing.T, replace map[string]string, want []wantProblem) Problems {
	t.Helper()
	files := maps.Clone(goodRepo)
	for name, content := range replace {
		if content == "" {
			delete(files, name)
		} else {
			files[name] = content
		}
	}
	opts := DefaultOptions()
	opts.RepoPath = writeFiles(t, files)
	_, err := Load(context.Background(), opts)
	var probs Problems
	if err != nil && !errors.As(err, &probs) {
		t.Fatalf("Load: %v (not Problems)", err)
	}
	for _, p := range probs {
		t.Log(p.String())
	}
	if len(probs) != len(want) {
		t.Fatalf("got %d problems, want %d", len(probs), len(want))
	}
	for i, w := range want {
		p := probs[i]
		if p.File != w.file || p.Line != w.line || p.Field != w.field || !strings.Contains(p.Message, w.msg) {
			t.Errorf("problem %d = %s\nwant %s:%d: %s: ...%s...", i, p, w.file, w.line, w.field, w.msg)
		}
		if p.Fix == "" {
			t.Errorf("problem %d has no fix: %s", i, p)
		}
	}
	return probs
}
