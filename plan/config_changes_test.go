package plan

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"

	"github.com/meshops/meshops/configs"
	"github.com/meshops/meshops/test/gitrepo"
)

// Secrets of the pull request below; none may appear in any rendering.
var prSecrets = []string{"base-values-secret", "head-values-secret", "base-configmap-secret", "head-configmap-secret"}

// pullRequestRepo is the example config repo in git with two commits: the
// base, with a credentials ConfigMap, secret and plain values of its own
// and a legacy ALLOW policy; and the head, which moves the target back to
// asm-1-28, rotates both secrets, scales the service, restarts one
// workload at a time, and swaps the legacy policy for a metrics one.
func pullRequestRepo(t *testing.T) (*gitrepo.Repo, string) {
	t.Helper()
	repo := gitrepo.New(t)
	repo.CopyDir("../configs/examples/aro-hcp-dev", ".")
	values := func(secret string, replicas, target string) string {
		data, err := os.ReadFile("../configs/examples/aro-hcp-dev/config/config.yaml")
		if err != nil {
			t.Fatal(err)
		}
		s := strings.Replace(string(data), "  svc:\n", "  svc:\n    mise:\n      clientSecret: \""+secret+"\"\n      replicas: "+replicas+"\n", 1)
		return strings.Replace(s, `targetVersion: "asm-1-29"`+"\n", `targetVersion: "`+target+`"`+"\n", 2)
	}
	credentials := func(secret string) string {
		return `apiVersion: v1
kind: ConfigMap
metadata:
  name: mise-credentials
  namespace: aks-istio-system
data:
  clientId: mise
  clientSecret: "` + secret + `"
`
	}
	settings, err := os.ReadFile("../configs/examples/aro-hcp-dev/meshops.yaml")
	if err != nil {
		t.Fatal(err)
	}
	repo.Write(map[string]string{
		"config/config.yaml": values("base-values-secret", "2", "asm-1-29"),
		"mesh/mise.yaml":     credentials("base-configmap-secret"),
		"mesh/legacy.yaml": `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: allow-legacy
  namespace: maestro
spec:
  action: ALLOW
  rules:
  - from:
    - source:
        principals: ["cluster.local/ns/legacy/sa/legacy"]
`,
	})
	base := repo.Commit("base")
	repo.Remove("mesh/legacy.yaml")
	repo.Write(map[string]string{
		"config/config.yaml": values("head-values-secret", "3", "asm-1-28"),
		"mesh/mise.yaml":     credentials("head-configmap-secret"),
		"meshops.yaml":       strings.Replace(string(settings), "batchSize: 2", "batchSize: 1", 1),
		"mesh/metrics.yaml": `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: allow-metrics
  namespace: aro-hcp
spec:
  action: ALLOW
  rules:
  - to:
    - operation:
        ports: ["9090"]
`,
	})
	repo.Commit("roll back to asm-1-28, rotate the mise secret, swap the legacy policy")
	return repo, base
}

func TestConfigChangesOfAPullRequestThatMovesTheTargetAndSwapsAPolicy(t *testing.T) {
	repo, baseCommit := pullRequestRepo(t)
	opts := configs.Options{RepoPath: repo.Dir}
	base, commit, err := configs.LoadGitRef(context.Background(), opts, "HEAD~1")
	if err != nil {
		t.Fatal(err)
	}
	if commit != baseCommit[:12] {
		t.Fatalf("base commit %s, want %s", commit, baseCommit[:12])
	}
	head, err := configs.Load(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	c, err := CompareConfigs(base, head)
	if err != nil {
		t.Fatal(err)
	}
	wantValues := []ValueChange{
		{Key: "svc.istio.targetVersion", Edit: EditChanged, Before: "asm-1-29", After: "asm-1-28"},
		{Key: "svc.mise.clientSecret", Edit: EditChanged, Before: MaskMarker, After: MaskMarker},
		{Key: "svc.mise.replicas", Edit: EditChanged, Before: "2", After: "3"},
	}
	if !equalChanges(c.Values, wantValues) {
		t.Errorf("values:\n got %+v\nwant %+v", c.Values, wantValues)
	}
	wantSettings := []ValueChange{{Key: "meshops.restart.batchSize", Edit: EditChanged, Before: "2", After: "1"}}
	if !equalChanges(c.Settings, wantSettings) {
		t.Errorf("settings:\n got %+v\nwant %+v", c.Settings, wantSettings)
	}
	var manifests []string
	for _, m := range c.Manifests {
		manifests = append(manifests, string(m.Edit)+" "+m.ID+" "+m.Source)
	}
	wantManifests := []string{
		"added AuthorizationPolicy/aro-hcp/allow-metrics mesh/metrics.yaml:1",
		"removed AuthorizationPolicy/maestro/allow-legacy mesh/legacy.yaml:1",
		"changed ConfigMap/aks-istio-system/mise-credentials mesh/mise.yaml:1",
	}
	if strings.Join(manifests, "\n") != strings.Join(wantManifests, "\n") {
		t.Errorf("manifests:\n got %q\nwant %q", manifests, wantManifests)
	}
	for _, m := range c.Manifests {
		// The credentials differ only in a masked value: no diff to show.
		if masked := m.ID == "ConfigMap/aks-istio-system/mise-credentials"; masked != (m.Diff == "") {
			t.Errorf("%s: diff %q", m.ID, m.Diff)
		} else if !masked && (!strings.Contains(m.Diff, "--- base/"+m.ID) || !strings.Contains(m.Diff, "+++ head/"+m.ID)) {
			t.Errorf("%s: diff lacks base/head labels:\n%s", m.ID, m.Diff)
		}
	}

	c.Base, c.BaseCommit = "origin/main", commit
	p := &Plan{Tag: "prod-stable", From: "asm-1-29", Target: "asm-1-28", Scenario: ScenarioRollback,
		Reason: "tag prod-stable moves back from asm-1-29 to asm-1-28", ConfigChanges: c}
	p.add(PhaseValidate, ActionCheck, "config", "42 managed objects valid", "", "")
	var text, md, js bytes.Buffer
	if err := RenderText(&text, p, TextOptions{Diffs: true}); err != nil {
		t.Fatal(err)
	}
	if err := RenderMarkdown(&md, p, MarkdownOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := RenderJSON(&js, p); err != nil {
		t.Fatal(err)
	}
	for name, out := range map[string]string{"text": text.String(), "markdown": md.String(), "json": js.String()} {
		for _, s := range prSecrets {
			if strings.Contains(out, s) {
				t.Errorf("the %s plan shows the secret %q", name, s)
			}
		}
		if !strings.Contains(out, MaskMarker) {
			t.Errorf("the %s plan does not show that secrets changed (masked)", name)
		}
	}
	golden(t, "config-changes.md", md.Bytes())
	golden(t, "config-changes.txt", text.Bytes())
	doc := commonMarkHTML(t, md.Bytes())
	if got := strings.Count(doc, "<table>"); got != 3 {
		t.Errorf("%d tables rendered, want the phase table and the two values tables", got)
	}
	if got := strings.Count(doc, `<code class="language-diff">`); got != 2 {
		t.Errorf("%d manifest diffs rendered, want the added and the removed policy", got)
	}
}

func equalChanges(got, want []ValueChange) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if got[i] != want[i] {
			return false
		}
	}
	return true
}

// Values show as text a reviewer can read in a table cell: plain one-line
// strings as they are, the rest as JSON, long ones cut, secret ones masked
// wherever they sit.
func TestValueText(t *testing.T) {
	for _, tc := range []struct {
		key  string
		v    any
		want string
	}{
		{"svc.istio.tag", "prod-stable", "prod-stable"},
		{"svc.istio.versions", []any{"asm-1-28", "asm-1-29"}, `["asm-1-28","asm-1-29"]`},
		{"svc.x.replicas", 3, "3"},
		{"svc.x.name", "", `""`},
		{"svc.x.enabled", nil, "null"},
		{"svc.x.script", "a\nb", `"a\nb"`},
		{"svc.x.apiKey", "k-123", MaskMarker},
		{"svc.x.clients", []any{map[string]any{"name": "a", "password": "p-123"}}, `[{"name":"a","password":"` + MaskMarker + `"}]`},
		{"svc.x.cert", strings.Repeat("A", 500), strings.Repeat("A", maxValueText-1) + "…"},
	} {
		if got := valueText(tc.key, tc.v); got != tc.want {
			t.Errorf("valueText(%s, %v) = %s, want %s", tc.key, tc.v, got, tc.want)
		}
	}
	clients := []any{map[string]any{"password": "p-123"}}
	valueText("svc.x.clients", clients)
	if clients[0].(map[string]any)["password"] != "p-123" {
		t.Error("valueText masked the config's own value in place")
	}
}

func TestCodeSpanHoldsBackticks(t *testing.T) {
	for in, want := range map[string]string{
		"asm-1-29":    "`asm-1-29`",
		"a`b":         "``a`b``",
		"`x`":         "`` `x` ``",
		"a``b`c":      "```a``b`c```",
		"origin/main": "`origin/main`",
	} {
		if got := codeSpan(in); got != want {
			t.Errorf("codeSpan(%q) = %q, want %q", in, got, want)
		}
	}
}
