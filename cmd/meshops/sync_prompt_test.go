package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/meshops/meshops/state"
	"github.com/meshops/meshops/test/e2e"
	"github.com/meshops/meshops/test/kubetest"
)

// terminalConsole is a console whose every stream is a terminal, 120
// columns wide: what sync sees when a person runs it.
func terminalConsole() console {
	return console{isTerminal: func(any) bool { return true }, width: func(any) int { return 120 }, stderr: io.Discard}
}

// runOnTerminal runs meshops as at a terminal, with stdin answering.
func runOnTerminal(stdin string, args ...string) (code int, stdout, stderr string) {
	var out, errs bytes.Buffer
	code = runOn(context.Background(), args, strings.NewReader(stdin), &out, &errs, terminalConsole())
	return code, out.String(), errs.String()
}

// pendingRepo is the example repo with one policy of its own, so that a
// sync has something to apply whatever other tests synced before.
func pendingRepo(t *testing.T) string {
	t.Helper()
	repo := copyRepo(t)
	name := "allow-" + kubetest.UniqueName(t)
	name = strings.TrimRight(name[:min(len(name), 60)], "-")
	policy := `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: ` + name + `, namespace: maestro}
spec:
  action: ALLOW
  rules:
  - from:
    - source: {principals: ["cluster.local/ns/maestro/sa/maestro"]}
`
	if err := os.WriteFile(filepath.Join(repo, "mesh", "extra.yaml"), []byte(policy), 0o644); err != nil {
		t.Fatal(err)
	}
	return repo
}

// ownRepo is a repo of one namespace of the test's own on a tag of its
// own: a sync of it has steps to run and changes nothing the example
// repo's tests look at (its gate fails here, where no injector answers,
// before the tag or a policy is touched).
func ownRepo(t *testing.T) string {
	t.Helper()
	ns := env.Namespace(t, nil)
	tag := strings.TrimRight(("t-" + ns)[:min(len(ns)+2, 40)], "-")
	dir := t.TempDir()
	files := map[string]string{
		"meshops.yaml":       "meshops:\n  namespaces: [" + ns + "]\n",
		"config/config.yaml": "defaults:\n  svc:\n    istio:\n      tag: " + tag + "\n      versions: \"asm-1-29\"\n",
		"mesh/policies.yaml": `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: allow-nothing, namespace: ` + ns + `}
spec: {}
`,
	}
	e2e.WriteFiles(t, dir, files)
	return dir
}

func recordExists(t *testing.T, ns string) bool {
	t.Helper()
	err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: state.DefaultName}, &corev1.ConfigMap{})
	if err != nil && !apierrors.IsNotFound(err) {
		t.Fatal(err)
	}
	return err == nil
}

var colorCode = regexp.MustCompile("\x1b\\[[0-9;]*m")

// At a terminal, sync asks before changing the cluster, naming it; any
// answer but "yes" changes nothing and exits 1 saying so.
func TestSyncAtATerminalAsksAndADeclineChangesNothing(t *testing.T) {
	installExampleCluster(t)
	stateNS := "meshops-declined"
	code, out, errs := runOnTerminal("no\n", "sync", "--kubeconfig", env.Kubeconfig(t), "--repo-path", pendingRepo(t), "--state-namespace", stateNS)
	if code != exitFailed || !strings.Contains(errs, "apply cancelled") || !strings.Contains(errs, "nothing was changed") {
		t.Fatalf("exit %d, want 1 and a message that nothing changed:\n%s\n%s", code, out, errs)
	}
	for _, want := range []string{"Only 'yes' will be accepted", "kubeconfig context", "policies"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if position.MatchString(out) || strings.Contains(out, "Sync complete") || strings.Contains(out, "[1/") {
		t.Errorf("a declined sync ran steps:\n%s", out)
	}
	if recordExists(t, stateNS) {
		t.Errorf("a declined sync wrote meshops' record in %s", stateNS)
	}
}

// --yes skips the question; NO_COLOR turns the colour off on a terminal
// (the live view still moves the cursor).
func TestSyncYesAppliesWithoutAskingAndNoColorHasNoColour(t *testing.T) {
	installExampleCluster(t)
	t.Setenv("NO_COLOR", "1")
	_, out, _ := runOnTerminal("", "sync", "--yes", "--kubeconfig", env.Kubeconfig(t), "--repo-path", ownRepo(t), "--state-namespace", "meshops-yes")
	if strings.Contains(out, "Enter a value") {
		t.Errorf("--yes asked:\n%s", out)
	}
	if !strings.Contains(out, "[1/") || !strings.Contains(out, "Sync ") {
		t.Errorf("no step ran, or no summary:\n%s", out)
	}
	if colorCode.MatchString(out) {
		t.Errorf("colour with NO_COLOR=1:\n%q", out)
	}
}

// Without a terminal on stdin (CI, make demo, a pipe) sync never asks: it
// applies as it always did.
func TestSyncWithoutATerminalNeverAsks(t *testing.T) {
	installExampleCluster(t)
	con := terminalConsole()
	stdin := strings.NewReader("no\n")
	con.isTerminal = func(s any) bool { return s != stdin }
	var out, errs bytes.Buffer
	runOn(context.Background(), []string{"sync", "--kubeconfig", env.Kubeconfig(t), "--repo-path", ownRepo(t), "--state-namespace", "meshops-no-tty"}, stdin, &out, &errs, con)
	if strings.Contains(out.String(), "Enter a value") || strings.Contains(errs.String(), "apply cancelled") {
		t.Errorf("sync asked without a terminal on stdin:\n%s", out.String())
	}
	if !strings.Contains(out.String(), "[1/") {
		t.Errorf("no step ran:\n%s", out.String())
	}
}

// Only "yes" approves, as terraform's question; an input that closes
// before a line is an error, not a "no" that looks like a decision.
func TestAskToApplyAcceptsOnlyYes(t *testing.T) {
	for _, tc := range []struct {
		answer string
		ok     bool
		err    error
	}{
		{"yes\n", true, nil},
		{"  yes \r\n", true, nil},
		{"yes", true, nil},
		{"y\n", false, nil},
		{"YES\n", false, nil},
		{"no\n", false, nil},
		{"\n", false, nil},
		{"", false, errNoAnswer},
	} {
		var out bytes.Buffer
		ok, err := askToApply(strings.NewReader(tc.answer), &out, `kubeconfig context "dev"`)
		if ok != tc.ok || !errors.Is(err, tc.err) {
			t.Errorf("answer %q: %v, %v; want %v, %v", tc.answer, ok, err, tc.ok, tc.err)
		}
		if !strings.Contains(out.String(), `to kubeconfig context "dev"?`) || !strings.Contains(out.String(), "Only 'yes' will be accepted") {
			t.Errorf("the question does not name the cluster or the answer:\n%s", out.String())
		}
	}
}
