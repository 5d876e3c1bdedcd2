package deploy_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

const (
	// baseDir is what kubectl apply -k deploy applies.
	baseDir             = "."
	monitoringComponent = "components/monitoring"
	monitoringGroup     = "monitoring.coreos.com"
)

// withMonitoring writes the overlay a user writes to add the monitoring
// component: outside deploy/ (kustomize refuses an overlay inside its base)
// and with relative paths (it refuses absolute ones).
func withMonitoring(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	rel := func(p string) string {
		abs, err := filepath.Abs(p)
		if err != nil {
			t.Fatal(err)
		}
		r, err := filepath.Rel(dir, abs)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	k := fmt.Sprintf("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n- %s\ncomponents:\n- %s\n",
		rel(baseDir), rel(monitoringComponent))
	if err := os.WriteFile(filepath.Join(dir, "kustomization.yaml"), []byte(k), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// render builds the kustomization in dir from the filesystem as kubectl
// kustomize does.
func render(t *testing.T, dir string) []*unstructured.Unstructured {
	t.Helper()
	abs, err := filepath.Abs(dir)
	if err != nil {
		t.Fatal(err)
	}
	m, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), abs)
	if err != nil {
		t.Fatalf("kustomize build %s: %v", dir, err)
	}
	var out []*unstructured.Unstructured
	for _, r := range m.Resources() {
		// Through JSON, as kubectl sends it: numbers become the types
		// unstructured objects hold.
		b, err := r.MarshalJSON()
		u := &unstructured.Unstructured{}
		if err == nil {
			err = u.UnmarshalJSON(b)
		}
		if err != nil {
			t.Fatalf("kustomize build %s: %s: %v", dir, r.CurId(), err)
		}
		out = append(out, u)
	}
	return out
}

func objectID(u *unstructured.Unstructured) string {
	return u.GroupVersionKind().GroupKind().String() + "/" + u.GetNamespace() + "/" + u.GetName()
}

func find(objs []*unstructured.Unstructured, group, kind, name string) *unstructured.Unstructured {
	for _, u := range objs {
		gvk := u.GroupVersionKind()
		if gvk.Group == group && gvk.Kind == kind && u.GetName() == name {
			return u
		}
	}
	return nil
}

// The base must apply on a cluster without the Prometheus operator: no
// object of its API group, and every object passes a server-side dry run
// on a real API server (which rejects kinds it does not serve).
func TestBaseRendersWithoutPrometheusOperatorKindsAndPassesServerSideDryRun(t *testing.T) {
	objs := render(t, baseDir)
	for _, u := range objs {
		if u.GroupVersionKind().Group == monitoringGroup {
			t.Errorf("the base holds %s: kubectl apply -k deploy fails without the Prometheus operator; move it to components/monitoring", objectID(u))
		}
	}
	for _, u := range objs {
		if u.GetKind() == "Namespace" {
			ensureNamespace(t, u.GetName())
		} else if ns := u.GetNamespace(); ns != "" {
			ensureNamespace(t, ns)
		}
	}
	for _, u := range objs {
		err := env.Client.Patch(context.Background(), u.DeepCopy(), client.Apply, client.FieldOwner("deploy-test"),
			client.ForceOwnership, client.DryRunAll)
		if err != nil {
			t.Errorf("%s: server-side dry run: %v", objectID(u), err)
		}
	}
}

// The base with the monitoring component is the base plus a ServiceMonitor
// that scrapes the base's Service by its labels and port name, the
// PrometheusRule, and the dashboard ConfigMap Grafana's sidecar picks up.
func TestMonitoringComponentAddsServiceMonitorRuleAndDashboardToTheBase(t *testing.T) {
	base := render(t, baseDir)
	overlay := render(t, withMonitoring(t))
	inBase := map[string]bool{}
	for _, u := range base {
		inBase[objectID(u)] = true
	}
	var added []string
	for _, u := range overlay {
		if !inBase[objectID(u)] {
			added = append(added, objectID(u))
		}
	}
	want := []string{
		"ServiceMonitor.monitoring.coreos.com/meshops-system/meshops",
		"PrometheusRule.monitoring.coreos.com/meshops-system/meshops",
		"ConfigMap/meshops-system/meshops-dashboard",
	}
	if len(added) != len(want) || len(overlay) != len(base)+len(want) {
		t.Fatalf("the component added %v to the base (%d objects, overlay %d), want exactly %v", added, len(base), len(overlay), want)
	}
	for _, id := range want {
		if !slices.Contains(added, id) {
			t.Errorf("the component does not add %s (added %v)", id, added)
		}
	}

	svc := find(overlay, "", "Service", "meshops")
	sm := find(overlay, monitoringGroup, "ServiceMonitor", "meshops")
	if svc == nil || sm == nil {
		t.Fatal("the overlay lacks the meshops Service or ServiceMonitor")
	}
	selector, _, _ := unstructured.NestedStringMap(sm.Object, "spec", "selector", "matchLabels")
	if len(selector) == 0 {
		t.Error("ServiceMonitor meshops: spec.selector.matchLabels is empty: it would select every Service")
	}
	for k, v := range selector {
		if svc.GetLabels()[k] != v {
			t.Errorf("ServiceMonitor meshops selects %s=%s, which Service meshops does not carry (labels %v)", k, v, svc.GetLabels())
		}
	}
	ports, _, _ := unstructured.NestedSlice(svc.Object, "spec", "ports")
	endpoints, _, _ := unstructured.NestedSlice(sm.Object, "spec", "endpoints")
	if len(endpoints) == 0 {
		t.Error("ServiceMonitor meshops has no endpoints")
	}
	for _, e := range endpoints {
		port, _ := e.(map[string]any)["port"].(string)
		found := false
		for _, p := range ports {
			found = found || p.(map[string]any)["name"] == port
		}
		if !found {
			t.Errorf("ServiceMonitor meshops scrapes port %q, which Service meshops does not name (ports %v)", port, ports)
		}
	}

	cm := find(overlay, "", "ConfigMap", "meshops-dashboard")
	if cm == nil {
		t.Fatal("the overlay lacks ConfigMap meshops-dashboard")
	}
	if cm.GetLabels()["grafana_dashboard"] == "" {
		t.Errorf("ConfigMap meshops-dashboard lacks the grafana_dashboard label Grafana's sidecar looks for (labels %v)", cm.GetLabels())
	}
	if data, _, _ := unstructured.NestedString(cm.Object, "data", "meshops.json"); data == "" {
		t.Error("ConfigMap meshops-dashboard has no data key meshops.json")
	}
	// Without the operator's CRDs only the dashboard can be checked on the
	// API server; the rule's content is checked in monitoring_test.go.
	ensureNamespace(t, cm.GetNamespace())
	if err := env.Client.Patch(context.Background(), cm.DeepCopy(), client.Apply, client.FieldOwner("deploy-test"),
		client.ForceOwnership, client.DryRunAll); err != nil {
		t.Errorf("%s: server-side dry run: %v", objectID(cm), err)
	}
}
