package cli_test

import (
	"context"
	"path/filepath"
	"testing"

	authorizationv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/meshops/meshops/test/binaries"
	"github.com/meshops/meshops/test/e2e"
	"github.com/meshops/meshops/test/kubetest"
)

const serviceAccount = "system:serviceaccount:meshops-system:meshops"

// applyDeployRBAC applies deploy/namespace.yaml and deploy/rbac.yaml as
// they are.
func applyDeployRBAC(t *testing.T) {
	t.Helper()
	root, err := binaries.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	dyn, err := dynamic.NewForConfig(env.Cluster.Config)
	if err != nil {
		t.Fatal(err)
	}
	groups, err := restmapper.GetAPIGroupResources(env.Clientset.Discovery())
	if err != nil {
		t.Fatal(err)
	}
	mapper := restmapper.NewDiscoveryRESTMapper(groups)
	for _, f := range []string{"namespace.yaml", "rbac.yaml"} {
		for _, u := range kubetest.ReadObjects(t, filepath.Join(root, "deploy", f)) {
			m, err := mapper.RESTMapping(u.GroupVersionKind().GroupKind(), u.GroupVersionKind().Version)
			if err != nil {
				t.Fatal(err)
			}
			data, _ := u.MarshalJSON()
			force := true
			if _, err := dyn.Resource(m.Resource).Namespace(u.GetNamespace()).Patch(context.Background(), u.GetName(),
				"application/apply-patch+yaml", data, metav1.PatchOptions{FieldManager: "deploy", Force: &force}); err != nil {
				t.Fatalf("%s %s: %v", u.GetKind(), u.GetName(), err)
			}
		}
	}
}

// impersonating writes a kubeconfig that acts as meshops' ServiceAccount.
func impersonating(t *testing.T) string {
	t.Helper()
	cfg, err := clientcmd.LoadFromFile(env.Cluster.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	for _, ai := range cfg.AuthInfos {
		ai.Impersonate = serviceAccount
	}
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
	return path
}

// The RBAC in deploy/ is enough for a full upgrade: meshops sync, acting
// as the ServiceAccount, applies the policies, labels the namespace, moves
// the tag and restarts the workloads. And no more: it may not read
// Secrets, delete workloads or grant itself rights.
func TestDeployRBACIsEnoughForAFullUpgradeAndNoMore(t *testing.T) {
	applyDeployRBAC(t)
	ns := env.Namespace(t, nil)
	tag := uniqueTag(t)
	env.CreateDeployment(t, ns, "frontend", e2e.DeploymentOptions{Replicas: 2})
	kubeconfig := impersonating(t)

	repo := t.TempDir()
	e2e.WriteFiles(t, repo, e2e.RepoFiles(tag, "asm-1-28", []string{ns}))
	if code, out := meshops(t, kubeconfig, "sync", "--repo-path", repo, "--state-namespace", "meshops-system"); code != 0 {
		t.Fatalf("fresh install as the ServiceAccount: exit %d\n%s", code, out)
	}
	// The Deployment predates the label: restart it by hand onto the tag.
	if err := env.RolloutRestart(context.Background(), ns, "frontend"); err != nil {
		t.Fatal(err)
	}
	waitOnRevision(t, ns, "frontend", "asm-1-28")

	e2e.WriteFiles(t, repo, e2e.RepoFiles(tag, "asm-1-29", []string{ns}))
	if code, out := meshops(t, kubeconfig, "sync", "--repo-path", repo, "--state-namespace", "meshops-system"); code != 0 {
		t.Fatalf("upgrade as the ServiceAccount: exit %d\n%s", code, out)
	}
	if got := tagRevision(t, tag); got != "asm-1-29" {
		t.Errorf("tag on %q, want asm-1-29", got)
	}
	waitOnRevision(t, ns, "frontend", "asm-1-29")

	// The sync above passes without watch too (streams fall back to a
	// list, rollout waits to polling), so the watches are checked apart.
	for _, attrs := range []authorizationv1.ResourceAttributes{
		{Verb: "watch", Resource: "pods"},
		{Verb: "watch", Group: "apps", Resource: "replicasets"},
		{Verb: "watch", Group: "apps", Resource: "deployments", Namespace: ns},
		{Verb: "watch", Group: "security.istio.io", Resource: "authorizationpolicies"},
		// The restart phase's shared watches (apply/watches.go).
		{Verb: "watch", Group: "policy", Resource: "poddisruptionbudgets"},
		{Verb: "watch", Resource: "configmaps", Namespace: "meshops-system"},
		// The moved-workloads record is written as one merge patch
		// (state.Store.UpdateFrom); without the verb it is a read and an
		// update per write.
		{Verb: "patch", Resource: "configmaps", Namespace: "meshops-system"},
	} {
		if !allowed(t, attrs) {
			t.Errorf("the ServiceAccount may not %s %s (group %q): plan and apply fall back to slower lists and polls", attrs.Verb, attrs.Resource, attrs.Group)
		}
	}
	for _, attrs := range []authorizationv1.ResourceAttributes{
		{Verb: "get", Resource: "secrets", Namespace: ns},
		{Verb: "list", Resource: "secrets"},
		{Verb: "delete", Group: "apps", Resource: "deployments", Namespace: ns},
		{Verb: "delete", Resource: "pods", Namespace: ns},
		{Verb: "create", Group: "rbac.authorization.k8s.io", Resource: "clusterrolebindings"},
		{Verb: "delete", Group: "admissionregistration.k8s.io", Resource: "mutatingwebhookconfigurations"},
		{Verb: "update", Resource: "configmaps", Namespace: "kube-system"},
	} {
		if allowed(t, attrs) {
			t.Errorf("the ServiceAccount may %s %s (group %q, namespace %q): more than meshops needs", attrs.Verb, attrs.Resource, attrs.Group, attrs.Namespace)
		}
	}
}

// allowed asks the API server whether meshops' ServiceAccount may do attrs.
func allowed(t *testing.T, attrs authorizationv1.ResourceAttributes) bool {
	t.Helper()
	sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
		User: serviceAccount, Groups: []string{"system:serviceaccounts", "system:serviceaccounts:meshops-system", "system:authenticated"},
		ResourceAttributes: &attrs,
	}}
	got, err := env.Clientset.AuthorizationV1().SubjectAccessReviews().Create(context.Background(), sar, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return got.Status.Allowed
}
