package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/meshops/meshops/plan"
	"github.com/meshops/meshops/prcomment"
	"github.com/meshops/meshops/test/gitrepo"
)

// postedComments is a GitHub that has no comments yet and keeps what is
// posted; the prcomment tests check the protocol in detail.
func postedComments(t *testing.T) (*httptest.Server, func() []string) {
	var mu sync.Mutex
	var posted []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if r.Header.Get("Authorization") != "Bearer test-token" {
			t.Errorf("%s %s: Authorization %q, want the token of GITHUB_TOKEN", r.Method, r.URL.Path, r.Header.Get("Authorization"))
		}
		switch {
		case r.Method == http.MethodGet && r.URL.Path == "/repos/Azure/ARO-HCP/issues/7/comments":
			w.Write([]byte("[]"))
		case r.Method == http.MethodPost && r.URL.Path == "/repos/Azure/ARO-HCP/issues/7/comments":
			var in struct{ Body string }
			if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
				t.Error(err)
			}
			posted = append(posted, in.Body)
			w.WriteHeader(http.StatusCreated)
			w.Write([]byte(`{"id": 1, "html_url": "https://github.com/Azure/ARO-HCP/pull/7#issuecomment-1"}`))
		default:
			t.Errorf("unexpected %s %s", r.Method, r.URL)
			w.WriteHeader(http.StatusNotFound)
		}
	}))
	t.Cleanup(srv.Close)
	return srv, func() []string { mu.Lock(); defer mu.Unlock(); return posted }
}

// A pull request that rotates a secret value and a secret ConfigMap field:
// plan --base shows that they changed, and neither the plan nor the
// comment posted from it shows any of the secrets.
func TestPlanWithBaseAndItsCommentNeverShowSecrets(t *testing.T) {
	installExampleCluster(t)
	repo, base := gitrepo.PullRequest(t, exampleRepo)
	md := filepath.Join(t.TempDir(), "plan.md")
	code := run([]string{"plan", "--kubeconfig", env.Kubeconfig(t), "--repo-path", repo.Dir, "--base", "HEAD~1",
		"-o", "markdown", "--max-bytes", "0", "--output-file", md})
	if code != 2 {
		t.Fatalf("exit code %d, want 2 (changes pending)", code)
	}
	data, err := os.ReadFile(md)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"#### Changes to the config against `HEAD~1` (`" + base[:12] + "`)",
		"| `svc.istio.targetVersion` | `asm-1-29` | `asm-1-28` |", "**removed** `AuthorizationPolicy/maestro/allow-legacy`",
		"`ConfigMap/aks-istio-system/mise-credentials`", plan.MaskMarker} {
		if !strings.Contains(string(data), want) {
			t.Errorf("plan.md lacks %q", want)
		}
	}

	srv, posted := postedComments(t)
	t.Setenv("GITHUB_TOKEN", "test-token")
	code = run([]string{"comment", "github", "--api-url", srv.URL, "--repository", "Azure/ARO-HCP", "--pr", "7", "--plan", md, "--cluster", "dev-westus3"})
	if code != 0 {
		t.Fatalf("comment: exit code %d", code)
	}
	comments := posted()
	if len(comments) != 1 || !strings.HasPrefix(comments[0], prcomment.Marker("dev-westus3")) {
		t.Fatalf("posted %d comments; want one with the cluster's marker", len(comments))
	}
	for _, s := range gitrepo.PullRequestSecrets {
		for name, text := range map[string]string{"plan.md": string(data), "the comment": comments[0]} {
			if strings.Contains(text, s) {
				t.Errorf("%s shows the secret %q", name, s)
			}
		}
	}
}

func TestCommentFailsClearlyWithoutAToken(t *testing.T) {
	md := filepath.Join(t.TempDir(), "plan.md")
	if err := os.WriteFile(md, []byte("### meshops plan: in sync\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("GITHUB_TOKEN", "")
	if code := run([]string{"comment", "github", "--repository", "Azure/ARO-HCP", "--pr", "7", "--plan", md}); code != 1 {
		t.Fatalf("exit code %d, want 1", code)
	}
}
