package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

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
	if err := simmesh.InstallExample(context.Background(), env.Client); err != nil {
		t.Fatal(err)
	}
}

func TestPlanExitsTwoWhenChangesArePendingAndWritesJSON(t *testing.T) {
	installExampleCluster(t)
	out := filepath.Join(t.TempDir(), "plan.json")
	code := run([]string{"plan", "--kubeconfig", env.Kubeconfig(t), "--repo-path", exampleRepo, "-o", "json", "--output-file", out})
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
	code, _, errs := capture([]string{"plan", "--kubeconfig", unreachableKubeconfig(t), "--repo-path", exampleRepo})
	if code != exitFailed || !strings.Contains(errs, "connection refused: nothing listens at the kubeconfig's server address") {
		t.Fatalf("exit code %d, want 1 with the refusal explained:\n%s", code, errs)
	}
}
