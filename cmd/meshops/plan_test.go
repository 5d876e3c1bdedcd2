package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/meshops/meshops/test/kubetest"
	"github.com/meshops/meshops/test/simmesh"
)

var env *kubetest.Env

func TestMain(m *testing.M) { kubetest.Main(m, &env) }

const exampleRepo = "../../configs/examples/aro-hcp-dev"

// installExampleCluster installs the simulated AKS mesh and the example
// repo's namespaces, once per API server.
func installExampleCluster(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	sim := simmesh.DefaultOptions()
	sim.FailurePolicy = "Ignore"
	if err := simmesh.Install(ctx, env.Client, sim); err != nil {
		t.Fatal(err)
	}
	for _, ns := range []string{"aro-hcp", "clusters-service", "maestro"} {
		if err := env.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatal(err)
		}
	}
}

func TestPlanExitsTwoWhenChangesArePendingAndWritesJSON(t *testing.T) {
	installExampleCluster(t)
	out := filepath.Join(t.TempDir(), "plan.json")
	code := run([]string{"plan", "--kubeconfig", env.Kubeconfig(t), "--repo-path", exampleRepo, "--format", "json", "--output", out})
	if code != 2 {
		t.Fatalf("exit code %d, want 2 (changes pending)", code)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"schema": "meshops.io/plan/v1alpha1"`, `"scenario": "fresh install"`, `"pending": true`} {
		if !strings.Contains(string(data), want) {
			t.Errorf("plan JSON lacks %s:\n%s", want, data)
		}
	}
}

func TestPlanExitsOneWhenTheClusterIsUnreachable(t *testing.T) {
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(kubeconfig, []byte(`apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: u, user: {token: x}}]
contexts: [{name: c, context: {cluster: c, user: u}}]
current-context: c
`), 0o600); err != nil {
		t.Fatal(err)
	}
	if code := run([]string{"plan", "--kubeconfig", kubeconfig, "--repo-path", exampleRepo}); code != 1 {
		t.Fatalf("exit code %d, want 1", code)
	}
}
