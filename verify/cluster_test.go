package verify

import (
	"context"
	"fmt"
	"testing"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/meshops/meshops/mesh"
	"github.com/meshops/meshops/plan"
	"github.com/meshops/meshops/test/kubetest"
	"github.com/meshops/meshops/test/simmesh"
)

// clusterFixture is the clean mesh of clean(), built on the real API
// server: the simulated add-on on asm-1-29, its injector values, tag
// prod-stable, namespace maestro on it with an injected pod, the gateway
// annotated with its address and a pod on the current proxy, STRICT mTLS
// mesh-wide, and an Istio Gateway whose TLS Secret exists.
type clusterFixture struct {
	t       *testing.T
	ctx     context.Context
	sim     simmesh.Options
	maestro string
}

const proxyTag = "1.29.0"

func (f *clusterFixture) create(obj client.Object) {
	f.t.Helper()
	if err := env.Client.Create(f.ctx, obj); err != nil {
		f.t.Fatalf("creating %T %s: %v", obj, obj.GetName(), err)
	}
}

func (f *clusterFixture) pod(ns, name, rev, tag string) *corev1.Pod {
	p := kubetest.InjectedPod(ns, name, rev, nil)
	p.Spec.InitContainers[0].Image = "mcr.microsoft.com/oss/istio/proxyv2:" + tag
	return p
}

func newClusterFixture(t *testing.T) *clusterFixture {
	ctx := context.Background()
	f := &clusterFixture{t: t, ctx: ctx, sim: simmesh.DefaultOptions()}
	f.sim.Revisions, f.sim.FailurePolicy = []string{"asm-1-29"}, "Ignore"
	f.sim.ProxyTags = map[string]string{"asm-1-29": proxyTag}
	if err := simmesh.Install(ctx, env.Client, f.sim); err != nil {
		t.Fatal(err)
	}
	f.create(&corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Namespace: f.sim.Namespace, Name: "istio-sidecar-injector-asm-1-29"},
		Data:       map[string]string{"values": fmt.Sprintf(`{"global":{"hub":"mcr.microsoft.com/oss/istio","tag":%q},"revision":"asm-1-29"}`, proxyTag)},
	})
	var injector admissionregistrationv1.MutatingWebhookConfiguration
	if err := env.Client.Get(ctx, client.ObjectKey{Name: mesh.InjectorWebhookName("asm-1-29", f.sim.Namespace)}, &injector); err != nil {
		t.Fatal(err)
	}
	f.create(f.tag(&injector, "prod-stable"))

	f.maestro = env.Namespace(t, map[string]string{mesh.RevisionLabel: "prod-stable"})
	t.Cleanup(func() {
		_ = env.Client.DeleteAllOf(context.Background(), &corev1.Pod{}, client.InNamespace(f.maestro), client.GracePeriodSeconds(0))
	})
	f.create(f.pod(f.maestro, "api", "asm-1-29", proxyTag))
	gw := f.pod(f.sim.IngressNamespace, "gateway", "", proxyTag)
	gw.Annotations = nil
	f.create(gw)

	svc := &corev1.Service{}
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: f.sim.IngressNamespace, Name: f.sim.IngressName}, svc); err != nil {
		t.Fatal(err)
	}
	svc.Annotations = map[string]string{plan.AzurePIPNameAnnotation: "pip-1", plan.AzureLBResourceGroupAnnotation: "rg-1"}
	if err := env.Client.Update(ctx, svc); err != nil {
		t.Fatal(err)
	}

	f.create(&unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "security.istio.io/v1", "kind": "PeerAuthentication",
		"metadata": map[string]any{"name": "default", "namespace": f.sim.Namespace},
		"spec":     map[string]any{"mtls": map[string]any{"mode": "STRICT"}},
	}})
	f.create(&unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "networking.istio.io/v1", "kind": "Gateway",
		"metadata": map[string]any{"name": "frontend", "namespace": f.sim.IngressNamespace},
		"spec": map[string]any{
			"selector": map[string]any{"istio": f.sim.IngressName},
			"servers": []any{map[string]any{
				"port":  map[string]any{"number": int64(443), "name": "https", "protocol": "HTTPS"},
				"hosts": []any{"rp.example.com"},
				"tls":   map[string]any{"mode": "SIMPLE", "credentialName": "frontend-credential"},
			}},
		},
	}})
	f.create(&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: f.sim.IngressNamespace, Name: "frontend-credential"},
		Data: map[string][]byte{"tls.crt": []byte("x"), "tls.key": []byte("x")}})
	return f
}

// tag is a tag webhook on asm-1-29 that ignores failures: nothing serves
// the simulated injector, and the test's pods carry their sidecars already.
func (f *clusterFixture) tag(injector *admissionregistrationv1.MutatingWebhookConfiguration, name string) *admissionregistrationv1.MutatingWebhookConfiguration {
	f.t.Helper()
	wh, err := mesh.TagWebhook(injector, name, "asm-1-29", f.sim.Namespace)
	if err != nil {
		f.t.Fatal(err)
	}
	for i := range wh.Webhooks {
		wh.Webhooks[i].FailurePolicy = ptr.To(admissionregistrationv1.Ignore)
	}
	return wh
}

func (f *clusterFixture) desired() Desired {
	return Desired{
		Tag: "prod-stable", Target: "asm-1-29", Versions: []string{"asm-1-29"}, Namespaces: []string{f.maestro},
		Options:            Options{IstioNamespace: f.sim.Namespace, IngressNamespace: f.sim.IngressNamespace, IngressService: f.sim.IngressName},
		IngressAnnotations: map[string]string{plan.AzurePIPNameAnnotation: "pip-1", plan.AzureLBResourceGroupAnnotation: "rg-1"},
		MinReadyIstiod:     1,
	}
}

func (f *clusterFixture) verify() []Finding {
	f.t.Helper()
	d := f.desired()
	s, err := Observe(f.ctx, env.Client, d.Options)
	if err != nil {
		f.t.Fatal(err)
	}
	return Check(s, d)
}

// One cluster, first clean, then with every problem seeded: verify finds
// nothing on the first and each problem, by rule and object, on the
// second. One test, because verify reads the whole cluster.
func TestVerifyFindsEverySeededProblemAndNothingOnACleanCluster(t *testing.T) {
	f := newClusterFixture(t)
	if got := f.verify(); len(got) != 0 {
		for _, x := range got {
			t.Errorf("clean cluster: %s %s %s: %s", x.Severity, x.Rule, x.Object, x.Problem)
		}
		t.FailNow()
	}

	ctx, sim := f.ctx, f.sim
	// asm-1-28 installed beside, outside versions, and not ready.
	sim.Revisions = []string{"asm-1-28", "asm-1-29"}
	if err := simmesh.Install(ctx, env.Client, sim); err != nil {
		t.Fatal(err)
	}
	if err := simmesh.SetDeploymentReady(ctx, env.Client, sim.Namespace, "istiod-asm-1-28", false); err != nil {
		t.Fatal(err)
	}
	// A pod without a sidecar, and one on an older proxy, on the tag.
	f.create(&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: f.maestro, Name: "uninjected"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.example/app:1"}}}})
	f.create(f.pod(f.maestro, "stale", "asm-1-29", "1.28.5"))
	// A namespace pinned to the revision, one using istio-injection.
	pinned := env.Namespace(t, map[string]string{mesh.RevisionLabel: "asm-1-29"})
	legacy := env.Namespace(t, map[string]string{"istio-injection": "enabled"})
	// A tag the config does not have.
	var injector admissionregistrationv1.MutatingWebhookConfiguration
	if err := env.Client.Get(ctx, client.ObjectKey{Name: mesh.InjectorWebhookName("asm-1-29", sim.Namespace)}, &injector); err != nil {
		t.Fatal(err)
	}
	canary := f.tag(&injector, "prod-canary")
	f.create(canary)
	// The gateway Service loses its public IP pin.
	svc := &corev1.Service{}
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: sim.IngressNamespace, Name: sim.IngressName}, svc); err != nil {
		t.Fatal(err)
	}
	delete(svc.Annotations, plan.AzurePIPNameAnnotation)
	if err := env.Client.Update(ctx, svc); err != nil {
		t.Fatal(err)
	}
	// A namespace turns mTLS off.
	f.create(&unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "security.istio.io/v1", "kind": "PeerAuthentication",
		"metadata": map[string]any{"name": "default", "namespace": f.maestro},
		"spec":     map[string]any{"mtls": map[string]any{"mode": "DISABLE"}},
	}})
	// The TLS Secret has not synced.
	if err := env.Client.Delete(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: sim.IngressNamespace, Name: "frontend-credential"}}); err != nil {
		t.Fatal(err)
	}

	got := f.verify()
	for _, want := range []struct {
		rule   Rule
		object string
	}{
		{RuleIstiodReady, "Deployment/aks-istio-system/istiod-asm-1-28"},
		{RuleLeftoverRevision, "Deployment/aks-istio-system/istiod-asm-1-28"},
		{RuleInjection, "Pod/" + f.maestro + "/uninjected"},
		{RuleStaleProxy, "Pod/" + f.maestro + "/stale"},
		{RuleNamespaceLabel, "Namespace/" + pinned},
		{RuleNamespaceLabel, "Namespace/" + legacy},
		{RuleLeftoverTag, "MutatingWebhookConfiguration/" + canary.Name},
		{RuleIngressService, "Service/" + sim.IngressNamespace + "/" + sim.IngressName},
		{RuleMTLS, "PeerAuthentication/" + f.maestro + "/default"},
		{RuleGatewayCredential, "Gateway/" + sim.IngressNamespace + "/frontend"},
	} {
		found := false
		for _, x := range got {
			found = found || (x.Rule == want.rule && x.Object.String() == want.object)
		}
		if !found {
			t.Errorf("no %s finding for %s", want.rule, want.object)
		}
	}
	if t.Failed() {
		for _, x := range got {
			t.Logf("found: %s %s %s: %s", x.Severity, x.Rule, x.Object, x.Problem)
		}
	}
}
