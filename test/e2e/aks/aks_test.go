// Package aks_test drives the ARM emulator (test/armemu) on the full local
// control plane through the real Azure SDK, and checks that what ARM says
// really happened in the cluster: the canary's istiod runs, the completed
// revision is gone.
package aks_test

import (
	"context"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/meshops/meshops/mesh"
	"github.com/meshops/meshops/rollout"
	"github.com/meshops/meshops/test/armemu"
	"github.com/meshops/meshops/test/armemu/armclient"
	"github.com/meshops/meshops/test/controlplane"
	"github.com/meshops/meshops/test/e2e"
)

var env *e2e.Env

// The cluster starts as an AKS cluster on asm-1-28 would.
func TestMain(m *testing.M) {
	e2e.Main(m, &env, controlplane.Options{
		Revisions:     []string{"asm-1-28"},
		PodStartDelay: 200 * time.Millisecond,
	})
}

// The local cluster is what the emulator changes.
var _ armemu.Mesh = (*controlplane.Cluster)(nil)

func TestCanaryStartsTheNewIstiodAndCompleteRemovesTheOldRevision(t *testing.T) {
	ctx := context.Background()
	opts := armemu.DefaultOptions()
	opts.Installed = []string{"asm-1-28"}
	opts.Mesh = env.Cluster
	opts.PollInterval = 200 * time.Millisecond
	srv, err := armemu.Start(opts, armemu.ServerOptions{CAFile: filepath.Join(t.TempDir(), "ca.crt")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	conn := srv.Connection()
	client, err := armclient.ManagedClusters(conn, nil)
	if err != nil {
		t.Fatal(err)
	}
	old, ok := env.Cluster.Istiod("asm-1-28")
	if !ok {
		t.Fatal("the control plane did not start asm-1-28")
	}

	// Canary start: ARM's operation succeeds only once asm-1-29 serves.
	mc, err := armclient.SetRevisions(ctx, client, conn, []string{"asm-1-28", "asm-1-29"}, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if got := armclient.Revisions(mc); !slices.Equal(got, []string{"asm-1-28", "asm-1-29"}) {
		t.Fatalf("revisions after canary start = %v", got)
	}
	d, err := env.Clientset.AppsV1().Deployments(controlplane.IstioNamespace).Get(ctx, "istiod-asm-1-29", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("canary istiod Deployment: %v", err)
	}
	if st := rollout.Deployment(d); !st.Done {
		t.Fatalf("istiod-asm-1-29 is not available when ARM says Succeeded: %s", st.Message)
	}
	wh, err := env.Clientset.AdmissionregistrationV1().MutatingWebhookConfigurations().Get(ctx,
		mesh.InjectorWebhookName("asm-1-29", controlplane.IstioNamespace), metav1.GetOptions{})
	if err != nil {
		t.Fatalf("canary injector webhook: %v", err)
	}
	for _, h := range wh.Webhooks {
		if len(h.ClientConfig.CABundle) == 0 {
			t.Fatalf("webhook %s has no caBundle: the canary istiod has not patched it", h.Name)
		}
	}
	canary, ok := env.Cluster.Istiod("asm-1-29")
	if !ok {
		t.Fatal("no istiod process for asm-1-29")
	}
	if !answers(canary.ReadyURL) {
		t.Fatalf("the asm-1-29 istiod process does not answer %s", canary.ReadyURL)
	}
	// The real istiod injects: a dry-run pod in a namespace on asm-1-29.
	ns := env.Namespace(t, map[string]string{mesh.RevisionLabel: "asm-1-29"})
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{GenerateName: "probe-"},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "probe", Image: "registry.example/probe:1"}}},
	}
	got, err := env.Clientset.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
	if err != nil {
		t.Fatal(err)
	}
	if sc := e2e.SidecarOf(got); sc.Revision != "asm-1-29" {
		t.Fatalf("a pod in a namespace on asm-1-29 was injected by %q", sc.Revision)
	}

	// Complete: asm-1-28's objects and process are gone when ARM says so.
	if _, err := armclient.SetRevisions(ctx, client, conn, []string{"asm-1-29"}, time.Second); err != nil {
		t.Fatal(err)
	}
	cs := env.Clientset
	gone := map[string]error{}
	_, gone["Deployment istiod-asm-1-28"] = cs.AppsV1().Deployments(controlplane.IstioNamespace).Get(ctx, "istiod-asm-1-28", metav1.GetOptions{})
	_, gone["Service istiod-asm-1-28"] = cs.CoreV1().Services(controlplane.IstioNamespace).Get(ctx, "istiod-asm-1-28", metav1.GetOptions{})
	_, gone["ConfigMap istio-asm-1-28"] = cs.CoreV1().ConfigMaps(controlplane.IstioNamespace).Get(ctx, "istio-asm-1-28", metav1.GetOptions{})
	_, gone["ConfigMap istio-sidecar-injector-asm-1-28"] = cs.CoreV1().ConfigMaps(controlplane.IstioNamespace).Get(ctx, "istio-sidecar-injector-asm-1-28", metav1.GetOptions{})
	_, gone["MutatingWebhookConfiguration of asm-1-28"] = cs.AdmissionregistrationV1().MutatingWebhookConfigurations().Get(ctx,
		mesh.InjectorWebhookName("asm-1-28", controlplane.IstioNamespace), metav1.GetOptions{})
	_, gone["ServiceAccount istiod-asm-1-28"] = cs.CoreV1().ServiceAccounts(controlplane.IstioNamespace).Get(ctx, "istiod-asm-1-28", metav1.GetOptions{})
	for what, err := range gone {
		if !apierrors.IsNotFound(err) {
			t.Errorf("%s after complete: %v, want not found", what, err)
		}
	}
	// The chart names its RBAC after the revision without labelling it.
	roles, err := cs.RbacV1().ClusterRoles().List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range roles.Items {
		if strings.Contains(r.Name, "-asm-1-28-") {
			t.Errorf("ClusterRole %s of asm-1-28 is left after complete", r.Name)
		}
	}
	if _, err := cs.CoreV1().ServiceAccounts(controlplane.IstioNamespace).Get(ctx, "istio-reader-service-account", metav1.GetOptions{}); err != nil {
		t.Errorf("the reader ServiceAccount all revisions share: %v", err)
	}
	if env.Cluster.Running("istiod-asm-1-28") || answers(old.ReadyURL) {
		t.Error("asm-1-28's istiod still runs after complete")
	}
	if _, ok := env.Cluster.Istiod("asm-1-28"); ok {
		t.Error("the cluster still lists asm-1-28's istiod")
	}
	if !answers(canary.ReadyURL) {
		t.Error("asm-1-29's istiod stopped with asm-1-28's")
	}

	var puts int
	for _, r := range srv.Requests() {
		if r.Method == http.MethodPut {
			puts++
		}
	}
	if puts != 2 {
		t.Errorf("%d PUTs, want 2 (canary start, complete)", puts)
	}
}

func answers(url string) bool {
	c := &http.Client{Timeout: time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}
