package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	clientcmd "k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/meshops/meshops/configs"
)

// plan -o json and -o yaml print the plan document to stdout (no file
// named json, as plan -o json once wrote); --output-file writes it to a
// file; --format still works, with a deprecation notice.
func TestPlanPrintsJSONAndYAMLToStdoutAndFilesOnlyWithOutputFile(t *testing.T) {
	installExampleCluster(t)
	kubeconfig := env.Kubeconfig(t)
	repo, err := filepath.Abs(exampleRepo)
	if err != nil {
		t.Fatal(err)
	}
	t.Chdir(t.TempDir())
	for _, format := range []string{formatJSON, formatYAML} {
		code, out, errs := capture([]string{"plan", "--kubeconfig", kubeconfig, "--repo-path", repo, "-o", format})
		if code != exitPending {
			t.Fatalf("-o %s: exit %d, want %d: %s", format, code, exitPending, errs)
		}
		if doc := parseData(t, format, out); doc["schema"] != "meshops.io/plan/v1alpha1" || doc["pending"] != true {
			t.Errorf("-o %s: schema %v, pending %v", format, doc["schema"], doc["pending"])
		}
		if _, err := os.Stat(format); !os.IsNotExist(err) {
			t.Errorf("-o %s wrote a file named %s", format, format)
		}
	}
	code, out, errs := capture([]string{"plan", "--kubeconfig", kubeconfig, "--repo-path", repo, "--format", "json", "--output-file", "plan.json"})
	if code != exitPending || out != "" {
		t.Fatalf("--format json --output-file: exit %d, stdout %q", code, out)
	}
	if !strings.Contains(errs, "--format has been deprecated, use -o/--output") {
		t.Errorf("no deprecation notice for --format:\n%s", errs)
	}
	data, err := os.ReadFile("plan.json")
	if err != nil {
		t.Fatal(err)
	}
	parseData(t, formatJSON, string(data))
}

// -n shows one namespace's steps: its restarts and policies, none of
// another namespace's; the exit code still says the whole plan.
func TestPlanNamespaceShowsOnlyThatNamespacesSteps(t *testing.T) {
	installExampleCluster(t)
	code, out, errs := capture([]string{"plan", "--kubeconfig", env.Kubeconfig(t), "--repo-path", exampleRepo, "-n", "maestro", "-o", "json"})
	if code != exitPending {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var doc struct {
		Steps []struct {
			Target string `json:"target"`
		} `json:"steps"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Steps) == 0 {
		t.Fatalf("no step in -n maestro:\n%s", out)
	}
	for _, s := range doc.Steps {
		if !strings.Contains(s.Target, "/maestro/") && s.Target != "Namespace/maestro" {
			t.Errorf("-n maestro shows %s", s.Target)
		}
	}
}

// A blocked plan (here: the target revision is not installed) ends with
// its own exit code, 3, not "changes pending"'s 2.
func TestPlanExitsThreeWhenBlocked(t *testing.T) {
	installExampleCluster(t)
	repo := blockedRepo(t)
	code, out, errs := capture([]string{"plan", "--kubeconfig", env.Kubeconfig(t), "--repo-path", repo})
	if code != exitBlocked || !strings.Contains(out, "not installed") {
		t.Errorf("exit %d, want %d (blocked):\n%s%s", code, exitBlocked, out, errs)
	}
}

func TestStatusPrintsJSONAndYAMLThatParse(t *testing.T) {
	ns := "meshops-status-formats"
	kubeconfig := env.Kubeconfig(t)
	if code, out, errs := capture([]string{"suspend", "--kubeconfig", kubeconfig, "--state-namespace", ns}); code != exitOK {
		t.Fatalf("suspend: %d %s %s", code, out, errs)
	}
	for _, format := range []string{formatJSON, formatYAML} {
		code, out, errs := capture([]string{"status", "--kubeconfig", kubeconfig, "--state-namespace", ns, "-o", format})
		if code != exitOK {
			t.Fatalf("-o %s: exit %d: %s", format, code, errs)
		}
		record, _ := parseData(t, format, out)["record"].(map[string]any)
		if record["suspended"] != true {
			t.Errorf("-o %s: record.suspended %v, want true:\n%s", format, record["suspended"], out)
		}
	}
	// status --format, the flag before -o, still works.
	code, out, errs := capture([]string{"status", "--kubeconfig", kubeconfig, "--state-namespace", ns, "--format", "json"})
	if code != exitOK || !strings.Contains(errs, "deprecated") {
		t.Errorf("status --format json: exit %d, stderr %q", code, errs)
	}
	parseData(t, formatJSON, out)
	if code, out, _ := capture([]string{"resume", "--kubeconfig", kubeconfig, "--state-namespace", ns}); code != exitOK || !strings.HasPrefix(out, "meshops resumed ") {
		t.Errorf("resume: exit %d: %q", code, out)
	}
}

// A server that completes the TLS handshake and then never answers does
// not hang plan: --request-timeout ends the request, and without one
// --timeout ends the command; either way exit 1 and a message that says it
// timed out.
func TestPlanGivesUpOnAServerThatAcceptsTLSAndStaysSilent(t *testing.T) {
	silent := make(chan struct{})
	srv := httptest.NewTLSServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { <-silent }))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(silent) }) // runs first: lets the handlers return
	if !strings.HasPrefix(srv.URL, "https://127.0.0.1:") {
		t.Fatalf("the silent server is not on loopback: %s", srv.URL)
	}
	kubeconfig := writeKubeconfig(t, srv.URL)
	for _, tc := range []struct {
		name                    string
		requestTimeout, timeout time.Duration
		cause                   string
	}{
		{"--request-timeout", 2 * time.Second, 30 * time.Second, "no answer within --request-timeout 2s"},
		{"--timeout alone", 0, 3 * time.Second, "the command ran past --timeout"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			done := make(chan struct{})
			var code int
			var errs string
			go func() {
				defer close(done)
				code, _, errs = capture([]string{"plan", "--kubeconfig", kubeconfig, "--repo-path", exampleRepo,
					"--request-timeout", tc.requestTimeout.String(), "--timeout", tc.timeout.String()})
			}()
			select {
			case <-done:
			case <-time.After(tc.timeout + 2*time.Minute):
				t.Fatalf("plan still runs 2m after its --timeout %s", tc.timeout)
			}
			t.Logf("plan gave up after %s; stderr:\n%s", time.Since(start).Round(time.Second), errs)
			if code != exitFailed || !strings.Contains(errs, tc.cause) || !strings.Contains(errs, "timeout: the API server did not answer within --request-timeout") {
				t.Errorf("exit %d, want %d with %q and the timeout explained:\n%s", code, exitFailed, tc.cause, errs)
			}
		})
	}
}

// sync of a blocked plan applies nothing and ends with the blocked code.
func TestSyncExitsThreeWhenBlocked(t *testing.T) {
	installExampleCluster(t)
	repo := blockedRepo(t)
	code, out, errs := capture([]string{"sync", "--kubeconfig", env.Kubeconfig(t), "--repo-path", repo, "--state-namespace", "meshops-sync-blocked"})
	if code != exitBlocked {
		t.Errorf("exit %d, want %d (blocked):\n%s%s", code, exitBlocked, out, errs)
	}
}

// editKubeconfig writes a copy of the admin kubeconfig changed by edit.
func editKubeconfig(t *testing.T, edit func(*clientcmdapi.Config)) string {
	t.Helper()
	cfg, err := clientcmd.LoadFromFile(env.Kubeconfig(t))
	if err != nil {
		t.Fatal(err)
	}
	edit(cfg)
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
	return path
}

// The real API server's refusals are explained: RBAC forbidden with the
// verb and the resource, and a certificate the kubeconfig does not trust.
func TestTheAPIServersRefusalsAreExplained(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*clientcmdapi.Config)
		want []string
	}{
		{"forbidden", func(c *clientcmdapi.Config) {
			for _, u := range c.AuthInfos {
				u.Impersonate = "meshops-nobody"
			}
		}, []string{`cannot list resource "mutatingwebhookconfigurations"`, "forbidden: the kubeconfig's user lacks an RBAC permission on mutatingwebhookconfigurations.admissionregistration.k8s.io "}},
		{"untrusted certificate", func(c *clientcmdapi.Config) {
			for _, cl := range c.Clusters {
				cl.CertificateAuthorityData, cl.CertificateAuthority = nil, ""
			}
		}, []string{"certificate", "TLS: the API server's certificate is not trusted"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errs := capture([]string{"status", "--kubeconfig", editKubeconfig(t, tc.edit)})
			t.Logf("stderr:\n%s", errs)
			if code != exitFailed {
				t.Errorf("exit %d, want %d", code, exitFailed)
			}
			for _, want := range tc.want {
				if !strings.Contains(errs, want) {
					t.Errorf("stderr lacks %q:\n%s", want, errs)
				}
			}
		})
	}
}

// blockedRepo is the example repo with a target revision that is not
// installed: a blocked plan.
func blockedRepo(t *testing.T) string {
	t.Helper()
	repo := copyRepo(t)
	values := filepath.Join(repo, "config", "config.yaml")
	data, err := os.ReadFile(values)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(values, []byte(strings.ReplaceAll(string(data), "asm-1-29", "asm-1-31")), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := configs.Load(t.Context(), configs.Options{RepoPath: repo, SettingsFile: "meshops.yaml"}); err != nil {
		t.Fatalf("the test's repo does not load: %v", err)
	}
	return repo
}

// verify -o yaml is the same document as -o json, in YAML.
func TestVerifyPrintsYAMLThatParses(t *testing.T) {
	installExampleCluster(t)
	code, out, errs := capture([]string{"verify", "--kubeconfig", env.Kubeconfig(t), "--repo-path", exampleRepo, "-o", "yaml"})
	if code != exitFailed && code != exitOK {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if doc := parseData(t, formatYAML, out); doc["schema"] == nil || doc["findings"] == nil {
		t.Errorf("-o yaml lacks schema or findings:\n%s", out)
	}
}
