package e2e_test

import (
	"context"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/meshops/meshops/mesh"
	"github.com/meshops/meshops/test/controlplane"
	"github.com/meshops/meshops/test/e2e"
)

var env *e2e.Env

func TestMain(m *testing.M) {
	e2e.Main(m, &env, controlplane.Options{
		ProxyTags: map[string]string{"asm-1-28": "1.28.5", "asm-1-29": "1.29.1"},
		// Short, to keep the suite quick; the default is 1s.
		PodStartDelay: 200 * time.Millisecond,
	})
}

func waitSidecars(t *testing.T, ns string, sel map[string]string, want int, rev, imageTag string) []e2e.Sidecar {
	t.Helper()
	ctx := context.Background()
	var got []e2e.Sidecar
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		var err error
		if got, err = env.Sidecars(ctx, ns, sel); err != nil {
			t.Fatal(err)
		}
		ok := len(got) == want
		for _, s := range got {
			ok = ok && s.Revision == rev && strings.HasSuffix(s.Image, ":"+imageTag) && s.Ready
		}
		if ok {
			return got
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("pods of %v in %s: got %+v, want %d ready pods injected by %s with proxy %s", sel, ns, got, want, rev, imageTag)
	return nil
}

// The whole point of the local control plane: a tag decides which real
// istiod injects a new pod, and re-pointing the tag plus a rollout restart
// moves a Deployment's pods to the other revision, Running and Ready.
func TestTagDecidesInjectingRevisionAndRolloutRestartMovesPods(t *testing.T) {
	ctx := context.Background()
	tag := "prod-stable"
	if err := env.SetTagByHand(ctx, tag, "asm-1-28"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = env.Clientset.AdmissionregistrationV1().MutatingWebhookConfigurations().Delete(context.Background(),
			mesh.TagWebhookName(tag, controlplane.IstioNamespace), metav1.DeleteOptions{})
	})
	ns := env.Namespace(t, map[string]string{"istio.io/rev": tag})
	env.CreateDeployment(t, ns, "frontend", e2e.DeploymentOptions{Replicas: 2})
	if err := env.WaitRolledOut(ctx, ns, "frontend", 60*time.Second); err != nil {
		t.Fatal(err)
	}
	before := waitSidecars(t, ns, map[string]string{"app": "frontend"}, 2, "asm-1-28", "1.28.5")
	for _, s := range before {
		if !s.Native {
			t.Errorf("pod %s: istio-proxy is not a native sidecar (init container with restartPolicy Always)", s.Pod)
		}
	}

	if err := env.SetTagByHand(ctx, tag, "asm-1-29"); err != nil {
		t.Fatal(err)
	}
	// istiod patches the caBundle into the tag webhook it now serves; until
	// then the injector cannot be called. Wait for a probe to be injected
	// by asm-1-29 before restarting, as meshops' gate will.
	waitProbe(t, ns, func(s e2e.Sidecar) bool { return s.Revision == "asm-1-29" })
	if err := env.RolloutRestart(ctx, ns, "frontend"); err != nil {
		t.Fatal(err)
	}
	if err := env.WaitRolledOut(ctx, ns, "frontend", 60*time.Second); err != nil {
		t.Fatal(err)
	}
	waitSidecars(t, ns, map[string]string{"app": "frontend"}, 2, "asm-1-29", "1.29.1")
}

// waitProbe dry-runs a pod create in ns until the injected sidecar
// satisfies ok: dry-run requests pass through mutating webhooks, and
// nothing is stored.
func waitProbe(t *testing.T, ns string, ok func(e2e.Sidecar) bool) e2e.Sidecar {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	var last e2e.Sidecar
	var lastErr error
	for time.Now().Before(deadline) {
		p, err := env.Clientset.CoreV1().Pods(ns).Create(context.Background(), probePod(), metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		lastErr = err
		if err == nil {
			if last = e2e.SidecarOf(p); ok(last) {
				return last
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("probe in %s: last injection %+v, error %v", ns, last, lastErr)
	return last
}

// Patch drift as the managed add-on produces it: the revision stays, its
// injected proxy image changes in place.
func TestSetProxyTagChangesTheImageARevisionInjects(t *testing.T) {
	ctx := context.Background()
	ns := env.Namespace(t, map[string]string{"istio.io/rev": "asm-1-29"})
	waitProbe(t, ns, func(s e2e.Sidecar) bool { return s.Revision == "asm-1-29" && strings.HasSuffix(s.Image, ":1.29.1") })
	if err := controlplane.SetProxyTag(ctx, env.Clientset, "asm-1-29", "1.29.2"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = controlplane.SetProxyTag(context.Background(), env.Clientset, "asm-1-29", "1.29.1") })
	waitProbe(t, ns, func(s e2e.Sidecar) bool { return s.Revision == "asm-1-29" && strings.HasSuffix(s.Image, ":1.29.2") })
}

func TestNeverReadyWorkloadNeverCompletesItsRollout(t *testing.T) {
	ctx := context.Background()
	ns := env.Namespace(t, nil)
	env.CreateDeployment(t, ns, "stuck", e2e.DeploymentOptions{Replicas: 1, NeverReady: true})
	env.CreateDeployment(t, ns, "fine", e2e.DeploymentOptions{Replicas: 1})
	if err := env.WaitRolledOut(ctx, ns, "fine", 30*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := env.WaitRolledOut(ctx, ns, "stuck", 3*time.Second); err == nil {
		t.Fatal("a workload labelled never-ready completed its rollout")
	}
	pods, err := env.Clientset.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=stuck"})
	if err != nil {
		t.Fatal(err)
	}
	if len(pods.Items) != 1 || pods.Items[0].Spec.NodeName != controlplane.NodeName {
		t.Fatalf("never-ready pod should be scheduled on %s and exist: %+v", controlplane.NodeName, pods.Items)
	}
}

func TestUnhealthyRevisionShowsInItsStandInDeployment(t *testing.T) {
	ctx := context.Background()
	if err := env.MakeRevisionUnhealthy(ctx, "asm-1-28"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = env.Clientset.AppsV1().Deployments(controlplane.IstioNamespace).Patch(context.Background(), "istiod-asm-1-28",
			types.MergePatchType, []byte(`{"spec":{"replicas":1}}`), metav1.PatchOptions{})
	})
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		d, err := env.Clientset.AppsV1().Deployments(controlplane.IstioNamespace).Get(ctx, "istiod-asm-1-28", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if d.Status.ReadyReplicas == 0 && d.Status.ObservedGeneration == d.Generation {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatal("istiod-asm-1-28 still reports ready replicas after being made unhealthy")
}
