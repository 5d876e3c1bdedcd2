package apply_test

import (
	"context"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/meshops/meshops/mesh"
	"github.com/meshops/meshops/plan"
	"github.com/meshops/meshops/test/e2e"
	"github.com/meshops/meshops/test/kubetest"
)

// With meshops.createNamespaces the mesh namespaces the config names and
// the cluster lacks are created, on the tag, before their policies; without
// it the plan is blocked naming them (plan tests).
func TestMissingMeshNamespacesAreCreatedOnTheTagWhenAllowed(t *testing.T) {
	ctx := context.Background()
	f := newMesh(t, 0)
	names := []string{kubetest.UniqueName(t) + "-a", kubetest.UniqueName(t) + "-b"}
	f.namespaces = names
	t.Cleanup(func() {
		for _, ns := range names {
			_ = env.Clientset.CoreV1().Namespaces().Delete(context.Background(), ns, metav1.DeleteOptions{})
		}
	})
	files := e2e.RepoFiles(f.tag, "asm-1-29", names)
	files["meshops.yaml"] += "  createNamespaces: true\n"
	e2e.WriteFiles(t, f.repo, files)

	p, res, err := f.sync(ctx, "c1", nil)
	if err != nil {
		t.Fatalf("sync: %v", err)
	}
	if p.Scenario != plan.ScenarioFreshInstall || res.Applied != 2*len(names) {
		t.Errorf("scenario %s, result %+v; want a fresh install applying %d objects", p.Scenario, res, 2*len(names))
	}
	for _, name := range names {
		ns, err := env.Clientset.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatalf("namespace %s: %v", name, err)
		}
		if ns.Labels[mesh.RevisionLabel] != f.tag {
			t.Errorf("namespace %s labels %v, want %s=%s", name, ns.Labels, mesh.RevisionLabel, f.tag)
		}
	}
	if got := f.tagRevision(); got != "asm-1-29" {
		t.Errorf("tag on %s, want asm-1-29", got)
	}
}
