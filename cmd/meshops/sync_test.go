package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/meshops/meshops/state"
)

// copyRepo copies the example repo so a test can break it.
func copyRepo(t *testing.T) string {
	t.Helper()
	dst := t.TempDir()
	if err := os.CopyFS(dst, os.DirFS(exampleRepo)); err != nil {
		t.Fatal(err)
	}
	return dst
}

// sync --dry-run prints the plan and changes nothing, not even meshops'
// own state record.
func TestSyncDryRunPrintsThePlanAndChangesNothing(t *testing.T) {
	ctx := context.Background()
	installExampleCluster(t)
	stateNS := "meshops-dry-run"
	code, stdout, _ := capture([]string{"sync", "--dry-run", "--kubeconfig", env.Kubeconfig(t), "--repo-path", exampleRepo, "--state-namespace", stateNS})
	if code != 0 {
		t.Fatalf("exit code %d, want 0:\n%s", code, stdout)
	}
	if !strings.Contains(stdout, "--dry-run: nothing applied") || !strings.Contains(stdout, "policies") {
		t.Errorf("output lacks the plan or the dry-run note:\n%s", stdout)
	}
	var cm corev1.ConfigMap
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: stateNS, Name: state.DefaultName}, &cm); !apierrors.IsNotFound(err) {
		t.Errorf("dry run wrote a state record (err %v)", err)
	}
}

// Bad input ends with exit 1, a message naming file, line and field, and
// no change in the cluster.
func TestSyncOfABrokenRepoExitsOneNamingTheFileAndChangesNothing(t *testing.T) {
	ctx := context.Background()
	repo := copyRepo(t)
	broken := filepath.Join(repo, "mesh", "maestro.yaml")
	data, err := os.ReadFile(broken)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(broken, []byte(strings.Replace(string(data), "action: ALLOW", "action: MAYBE", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	stateNS := "meshops-broken"
	code, stdout, stderr := capture([]string{"sync", "--kubeconfig", env.Kubeconfig(t), "--repo-path", repo, "--state-namespace", stateNS})
	if code != 1 {
		t.Fatalf("exit code %d, want 1:\n%s", code, stdout)
	}
	for _, want := range []string{"mesh/maestro.yaml", "spec.action", "MAYBE"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("error does not name %q:\n%s", want, stderr)
		}
	}
	if err := env.Client.Get(ctx, client.ObjectKey{Name: stateNS}, &corev1.Namespace{}); !apierrors.IsNotFound(err) {
		t.Errorf("a broken repo created meshops' namespace (err %v)", err)
	}
}

func capture(args []string) (code int, stdout, stderr string) {
	var out, errs bytes.Buffer
	code = runWith(args, &out, &errs)
	return code, out.String(), errs.String()
}
