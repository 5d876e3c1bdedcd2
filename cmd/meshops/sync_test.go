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

	"github.com/meshops/meshops/configs"
	"github.com/meshops/meshops/state"
	"github.com/meshops/meshops/sync/reconcile"
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

// meshops sync and meshops run are one engine: on a suspended cluster sync
// applies nothing, says so, and leaves the record exactly as run's
// reconcile leaves it.
func TestSyncOnASuspendedClusterAppliesNothingAndRecordsItAsRunDoes(t *testing.T) {
	ctx := context.Background()
	installExampleCluster(t)
	bySync, byRun := "meshops-suspended-sync", "meshops-suspended-run"
	for _, ns := range []string{bySync, byRun} {
		if code, out, errs := capture([]string{"suspend", "--kubeconfig", env.Kubeconfig(t), "--state-namespace", ns}); code != 0 {
			t.Fatalf("suspend in %s exited %d:\n%s%s", ns, code, out, errs)
		}
	}

	code, stdout, stderr := capture([]string{"sync", "--kubeconfig", env.Kubeconfig(t), "--repo-path", exampleRepo, "--state-namespace", bySync})
	if code != 1 || !strings.Contains(stderr, "suspended") || !strings.Contains(stderr, "--ignore-suspend") {
		t.Fatalf("sync on a suspended cluster: exit %d, want 1 and a message naming suspend and --ignore-suspend:\n%s\n%s", code, stdout, stderr)
	}
	if strings.Contains(stdout, "Sync ") || strings.Contains(stdout, "[1/") {
		t.Errorf("sync on a suspended cluster ran the executor:\n%s", stdout)
	}

	o := reconcile.DefaultClusterOptions()
	o.StateNamespace = byRun
	cl, runStore, err := reconcile.NewCluster(env.Config, o)
	if err != nil {
		t.Fatal(err)
	}
	r := &reconcile.Reconciler{
		Source: reconcile.DirSource{Path: exampleRepo}, Cluster: cl, Store: runStore,
		Options: reconcile.Options{Config: configs.DefaultOptions()},
	}
	out, err := r.Reconcile(ctx, "test: as meshops run")
	if err != nil || out.Decision != reconcile.DecisionSuspended {
		t.Fatalf("run's reconcile on a suspended cluster: %v, decision %q", err, out.Decision)
	}

	syncRec, err := (&state.Store{Client: cl.Client, Namespace: bySync, Name: state.DefaultName}).Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	runRec, err := runStore.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if syncRec.LastResult != state.ResultSuspended || syncRec.LastResult != runRec.LastResult ||
		syncRec.LastError != runRec.LastError || syncRec.LastAppliedCommit != runRec.LastAppliedCommit ||
		syncRec.Progress != nil || runRec.Progress != nil || syncRec.LastRun.IsZero() || runRec.LastRun.IsZero() {
		t.Errorf("records differ or are not \"suspended\":\n sync %+v\n  run %+v", syncRec, runRec)
	}
}
