package e2e_test

import (
	"context"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/meshops/meshops/mesh"
	"github.com/meshops/meshops/observe"
	"github.com/meshops/meshops/test/controlplane"
)

// observe.Probe against real istiod revisions: it sees the revision a
// namespace's label selects and the proxy image that revision injects
// today, and it stores no pod.
func TestInjectionProbeReportsRevisionAndCurrentProxyImage(t *testing.T) {
	ctx := context.Background()
	scheme := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(scheme)
	c, err := client.New(env.Cluster.Config, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	probe := func(ns string, ok func(mesh.Sidecar) bool) mesh.Sidecar {
		t.Helper()
		var last mesh.Sidecar
		var lastErr error
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
			if last, lastErr = observe.Probe(ctx, c, ns); lastErr == nil && ok(last) {
				return last
			}
		}
		t.Fatalf("probe in %s: last %+v, error %v", ns, last, lastErr)
		return last
	}

	ns28 := env.Namespace(t, map[string]string{"istio.io/rev": "asm-1-28"})
	got := probe(ns28, func(s mesh.Sidecar) bool { return s.Revision == "asm-1-28" })
	if !got.Native || mesh.ImageTag(got.Image) != "1.28.5" {
		t.Errorf("probe on asm-1-28 = %+v, want a native sidecar with proxy 1.28.5", got)
	}

	plain := env.Namespace(t, nil)
	if got, err := observe.Probe(ctx, c, plain); err != nil || got.Injected {
		t.Errorf("probe in a namespace outside the mesh = %+v, %v; want not injected", got, err)
	}

	ns29 := env.Namespace(t, map[string]string{"istio.io/rev": "asm-1-29"})
	probe(ns29, func(s mesh.Sidecar) bool { return mesh.ImageTag(s.Image) == "1.29.1" })
	if err := controlplane.SetProxyTag(ctx, env.Clientset, "asm-1-29", "1.29.3"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = controlplane.SetProxyTag(context.Background(), env.Clientset, "asm-1-29", "1.29.1") })
	probe(ns29, func(s mesh.Sidecar) bool { return s.Revision == "asm-1-29" && mesh.ImageTag(s.Image) == "1.29.3" })

	pods, err := env.Clientset.CoreV1().Pods(ns29).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pods.Items {
		if strings.HasPrefix(p.Name, "meshops-injection-probe-") {
			t.Errorf("a dry-run probe was stored: %s", p.Name)
		}
	}
}
