package apply_test

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/meshops/meshops/plan"
	"github.com/meshops/meshops/test/fixtures"
)

// The real ARO HCP service-cluster config, as no one here wrote it: an
// upgrade asm-1-28 → asm-1-29 with two workloads each in aro-hcp,
// clusters-service and maestro applies every manifest (schemas checked by
// the real CRDs), moves the tag and every workload, and a second sync is
// a no-op.
func TestAROHCPUpgradeCompletesAndSecondSyncIsANoop(t *testing.T) {
	ctx := context.Background()
	f := newMesh(t, 0)
	f.repo = fixtures.AROHCPRepo(t)
	cfg := f.config()
	f.tag = cfg.Istio.Tag
	f.namespaces = cfg.Settings.Extensions.Namespaces
	for _, m := range cfg.Manifests {
		if ns := m.GetNamespace(); ns != "" {
			createNamespace(t, ns)
		}
	}
	f.onTag("asm-1-28")
	ids := f.deployments(2, "asm-1-28")

	p, res, err := f.sync(ctx, "aro-1", nil)
	if err != nil {
		t.Fatalf("sync of the ARO HCP upgrade: %v", err)
	}
	if p.Scenario != plan.ScenarioUpgrade || p.From != "asm-1-28" || p.Target != "asm-1-29" {
		t.Errorf("scenario %s %s → %s, want upgrade asm-1-28 → asm-1-29", p.Scenario, p.From, p.Target)
	}
	if res.Applied != len(cfg.Manifests) || res.Restarted != len(ids) || !res.TagMoved {
		t.Errorf("result %+v; want %d applied, %d restarted, tag moved", res, len(cfg.Manifests), len(ids))
	}
	f.waitRevision(ids, "asm-1-29")
	svc, err := env.Clientset.CoreV1().Services("aks-istio-ingress").Get(ctx, "aks-istio-ingressgateway-external", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{plan.AzurePIPNameAnnotation: cfg.Istio.IngressGatewayIPAddressName, plan.AzureLBResourceGroupAnnotation: cfg.Istio.RegionRG} {
		if want == "" || svc.Annotations[k] != want {
			t.Errorf("gateway Service annotation %s = %q, want %q", k, svc.Annotations[k], want)
		}
	}

	p, res, err = f.sync(ctx, "aro-1", nil)
	if err != nil || p.Pending() || p.Scenario != plan.ScenarioInSync || res.Applied+res.Restarted != 0 {
		t.Errorf("second sync: %s pending=%v %+v %v; want in sync, nothing done", p.Scenario, p.Pending(), res, err)
	}
}

// createNamespace creates a fixed-name namespace the fixtures need, once
// per control plane.
func createNamespace(t *testing.T, name string) {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if _, err := env.Clientset.CoreV1().Namespaces().Create(context.Background(), ns, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
}
