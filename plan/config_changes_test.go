package plan

import (
	"context"
	"strings"
	"testing"

	"github.com/meshops/meshops/configs"
	"github.com/meshops/meshops/test/gitrepo"
	"github.com/meshops/meshops/test/golden"
)

func TestConfigChangesOfAPullRequestThatMovesTheTargetAndSwapsAPolicy(t *testing.T) {
	repo, baseCommit := gitrepo.PullRequest(t, "../configs/examples/aro-hcp-dev")
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
	p.add(Step{Phase: PhaseValidate, Action: ActionCheck, Op: OpValidate, Target: ConfigTarget(), Reason: "42 managed objects valid"})
	text, md, js := renderAll(t, p)
	for name, out := range map[string]string{"text": text.String(), "markdown": md.String(), "json": js.String()} {
		for _, s := range gitrepo.PullRequestSecrets {
			if strings.Contains(out, s) {
				t.Errorf("the %s plan shows the secret %q", name, s)
			}
		}
		if !strings.Contains(out, MaskMarker) {
			t.Errorf("the %s plan does not show that secrets changed (masked)", name)
		}
	}
	golden.Check(t, "config-changes.md", md.Bytes())
	golden.Check(t, "config-changes.txt", text.Bytes())
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
