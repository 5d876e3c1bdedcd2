// Package deploy holds the manifests that run meshops in a cluster; its
// test checks them against a real API server.
package deploy_test

import (
	"context"
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/meshops/meshops/test/kubetest"
)

var env *kubetest.Env

func TestMain(m *testing.M) { kubetest.Main(m, &env) }

// Every object kubectl apply -k deploy creates is accepted by a real API
// server (server-side apply), and the ClusterRole grants no wildcard.
func TestDeployManifestsApplyToARealAPIServerWithoutWildcards(t *testing.T) {
	ctx := context.Background()
	objs := render(t, baseDir)
	if len(objs) < 10 {
		t.Fatalf("rendered %d objects, want the namespace, RBAC, ConfigMap, Deployment and Service", len(objs))
	}
	for _, u := range objs {
		// Roles in the Istio namespaces need them to exist.
		if ns := u.GetNamespace(); ns != "" && ns != "meshops-system" {
			ensureNamespace(t, ns)
		}
		if err := env.Client.Patch(ctx, u, client.Apply, client.FieldOwner("deploy-test"), client.ForceOwnership); err != nil {
			t.Errorf("%s %s/%s: %v", u.GetKind(), u.GetNamespace(), u.GetName(), err)
		}
		if u.GetKind() == "ClusterRole" || u.GetKind() == "Role" {
			var role rbacv1.ClusterRole
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &role); err != nil {
				t.Fatal(err)
			}
			for _, r := range role.Rules {
				all := strings.Join(append(append(append([]string{}, r.Verbs...), r.Resources...), r.APIGroups...), ",")
				if strings.Contains(all, "*") && len(r.NonResourceURLs) == 0 {
					t.Errorf("%s %s grants a wildcard: %+v", u.GetKind(), u.GetName(), r)
				}
			}
		}
	}
}

func ensureNamespace(t *testing.T, name string) {
	t.Helper()
	ns := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": name}}}
	if err := env.Client.Patch(context.Background(), ns, client.Apply, client.FieldOwner("deploy-test")); err != nil {
		t.Fatal(err)
	}
}
