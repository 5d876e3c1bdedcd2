package kubetest_test

import (
	"context"
	"strings"
	"testing"

	"github.com/fluxcd/cli-utils/pkg/kstatus/polling"
	"github.com/fluxcd/pkg/ssa"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/meshops/meshops/test/kubetest"
	"github.com/meshops/meshops/test/simmesh"
)

var env *kubetest.Env

func TestMain(m *testing.M) { kubetest.Main(m, &env) }

func authorizationPolicy(ns, name, action string) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "security.istio.io/v1",
		"kind":       "AuthorizationPolicy",
		"metadata":   map[string]any{"name": name, "namespace": ns},
		"spec": map[string]any{
			"action": action,
			"rules": []any{map[string]any{
				"from": []any{map[string]any{"source": map[string]any{
					"principals": []any{"cluster.local/ns/aro-hcp/sa/frontend"},
				}}},
			}},
		},
	}}
}

// The API server under test is the real one: server-side apply records our
// field manager, and the real Istio CRD schema rejects what Istio rejects.
func TestServerSideApplyThroughSSARecordsFieldManagerAndEnforcesIstioSchema(t *testing.T) {
	ctx := context.Background()
	ns := env.Namespace(t, nil)
	rm := ssa.NewResourceManager(env.Client, polling.NewStatusPoller(env.Client, env.Mapper, polling.Options{}),
		ssa.Owner{Field: "meshops", Group: "meshops.io"})

	entry, err := rm.Apply(ctx, authorizationPolicy(ns, "allow-frontend", "ALLOW"), ssa.DefaultApplyOptions())
	if err != nil {
		t.Fatalf("apply: %v", err)
	}
	if entry.Action != ssa.CreatedAction {
		t.Fatalf("first apply: got action %s, want %s", entry.Action, ssa.CreatedAction)
	}
	// A second apply of the same object is a no-op only if dry-run really
	// ran on the server: a fake client would say "created" again.
	entry, err = rm.Apply(ctx, authorizationPolicy(ns, "allow-frontend", "ALLOW"), ssa.DefaultApplyOptions())
	if err != nil {
		t.Fatalf("second apply: %v", err)
	}
	if entry.Action != ssa.UnchangedAction {
		t.Fatalf("second apply: got action %s, want %s", entry.Action, ssa.UnchangedAction)
	}

	got := &unstructured.Unstructured{}
	got.SetAPIVersion("security.istio.io/v1")
	got.SetKind("AuthorizationPolicy")
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "allow-frontend"}, got); err != nil {
		t.Fatal(err)
	}
	var managers []string
	for _, mf := range got.GetManagedFields() {
		managers = append(managers, mf.Manager+"/"+string(mf.Operation))
	}
	if len(managers) != 1 || managers[0] != "meshops/Apply" {
		t.Fatalf("managedFields managers = %v, want [meshops/Apply]", managers)
	}

	_, err = rm.Apply(ctx, authorizationPolicy(ns, "allow-maybe", "MAYBE"), ssa.DefaultApplyOptions())
	if err == nil {
		t.Fatal("applying action MAYBE succeeded; the Istio CRD schema must reject it")
	}
	if !strings.Contains(err.Error(), "spec.action") || !strings.Contains(err.Error(), "MAYBE") {
		t.Fatalf("schema error does not name the field and value: %v", err)
	}
}

func TestSimulatedMeshInstallsRevisionsShapedAsTheIstioChartRendersThem(t *testing.T) {
	ctx := context.Background()
	opts := simmesh.DefaultOptions()
	opts.Namespace = env.Namespace(t, nil)
	opts.IngressNamespace = env.Namespace(t, nil)
	if err := simmesh.Install(ctx, env.Client, opts); err != nil {
		t.Fatal(err)
	}
	for _, rev := range opts.Revisions {
		d := &appsv1.Deployment{}
		if err := env.Client.Get(ctx, client.ObjectKey{Namespace: opts.Namespace, Name: "istiod-" + rev}, d); err != nil {
			t.Fatal(err)
		}
		if d.Labels["app"] != "istiod" || d.Labels["istio.io/rev"] != rev {
			t.Errorf("istiod-%s labels = %v", rev, d.Labels)
		}
		if d.Status.ReadyReplicas != 2 || d.Status.ObservedGeneration != d.Generation {
			t.Errorf("istiod-%s status = %+v, want fully rolled out", rev, d.Status)
		}
		wh := &admissionregistrationv1.MutatingWebhookConfiguration{}
		name := "istio-sidecar-injector-" + rev + "-" + opts.Namespace
		if err := env.Client.Get(ctx, client.ObjectKey{Name: name}, wh); err != nil {
			t.Fatalf("injector webhook %s: %v", name, err)
		}
		t.Cleanup(func() { _ = env.Client.Delete(context.Background(), wh) })
		if wh.Labels["istio.io/rev"] != rev || wh.Labels["app"] != "sidecar-injector" {
			t.Errorf("%s labels = %v", name, wh.Labels)
		}
		if len(wh.Webhooks) != 2 || wh.Webhooks[0].Name != "rev.namespace.sidecar-injector.istio.io" ||
			wh.Webhooks[1].Name != "rev.object.sidecar-injector.istio.io" {
			t.Errorf("%s webhooks = %d entries, want rev.namespace. and rev.object.", name, len(wh.Webhooks))
		}
		if svc := wh.Webhooks[0].ClientConfig.Service; svc == nil || svc.Name != "istiod-"+rev || svc.Namespace != opts.Namespace {
			t.Errorf("%s client config = %+v, want service istiod-%s", name, wh.Webhooks[0].ClientConfig, rev)
		}
	}
	if err := simmesh.SetDeploymentReady(ctx, env.Client, opts.Namespace, "istiod-asm-1-29", false); err != nil {
		t.Fatal(err)
	}
	d := &appsv1.Deployment{}
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: opts.Namespace, Name: "istiod-asm-1-29"}, d); err != nil {
		t.Fatal(err)
	}
	if d.Status.ReadyReplicas != 0 {
		t.Errorf("after SetDeploymentReady(false): ready = %d, want 0", d.Status.ReadyReplicas)
	}
}
