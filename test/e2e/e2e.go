// Package e2e is the harness for tests against the real local control
// plane: kube-apiserver, etcd, kube-controller-manager, kube-scheduler, kwok
// and a real istiod per revision (test/controlplane with Full). Deployments
// really roll and istiod really injects, so a test can check on real pods
// which revision injected them. One control plane per test package.
package e2e

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/go-logr/logr"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/meshops/meshops/mesh"
	"github.com/meshops/meshops/plan"
	"github.com/meshops/meshops/rollout"
	"github.com/meshops/meshops/state"
	"github.com/meshops/meshops/sync/reconcile"
	"github.com/meshops/meshops/test/controlplane"
	"github.com/meshops/meshops/test/kubetest"
)

// Env is a running control plane and a clientset for it.
type Env struct {
	Cluster   *controlplane.Cluster
	Clientset kubernetes.Interface
	Options   controlplane.Options
}

// Main starts the control plane, runs the package's tests and stops it:
//
//	var env *e2e.Env
//	func TestMain(m *testing.M) { e2e.Main(m, &env, controlplane.Options{}) }
//
// StateDir defaults to a temporary folder.
func Main(m *testing.M, env **Env, opts controlplane.Options) {
	e, stop, err := Start(opts)
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: %v\n", err)
		os.Exit(1)
	}
	*env = e
	code := m.Run()
	stop()
	os.Exit(code)
}

// Start starts the control plane for a TestMain that does more than run
// the tests (the benchmarks print their table after them); stop stops it
// and removes the temporary StateDir. StateDir defaults to a temporary
// folder.
func Start(opts controlplane.Options) (env *Env, stop func(), err error) {
	// controller-runtime's client logs through its global logger; without
	// one it prints a stack trace 30 s into the run.
	ctrllog.SetLogger(logr.Discard())
	opts.Full = true
	cleanup := func() {}
	if opts.StateDir == "" {
		dir, err := os.MkdirTemp("", "meshops-e2e-")
		if err != nil {
			return nil, nil, err
		}
		cleanup = func() { _ = os.RemoveAll(dir) }
		opts.StateDir = dir
	}
	c, err := controlplane.Up(context.Background(), opts)
	if err != nil {
		cleanup()
		return nil, nil, fmt.Errorf("starting the control plane: %w", err)
	}
	stop = func() {
		if err := controlplane.Down(opts.StateDir, nil); err != nil {
			fmt.Fprintf(os.Stderr, "e2e: stopping the control plane: %v\n", err)
		}
		cleanup()
	}
	cs, err := kubernetes.NewForConfig(c.Config)
	if err != nil {
		stop()
		return nil, nil, err
	}
	return &Env{Cluster: c, Clientset: cs, Options: opts}, stop, nil
}

// Namespace creates a namespace with a unique name and the given labels
// (e.g. istio.io/rev=<tag>) and deletes it when the test ends.
func (e *Env) Namespace(t testing.TB, lbls map[string]string) string {
	t.Helper()
	name := kubetest.UniqueName(t)
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: lbls}}
	if _, err := e.Clientset.CoreV1().Namespaces().Create(context.Background(), ns, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating namespace %s: %v", name, err)
	}
	t.Cleanup(func() {
		_ = e.Clientset.CoreV1().Namespaces().Delete(context.Background(), name, metav1.DeleteOptions{})
	})
	return name
}

// DeploymentOptions shape a test workload.
type DeploymentOptions struct {
	Replicas int32
	// NeverReady keeps its pods from ever turning ready (kwok skips them).
	NeverReady bool
	// Labels are added to the pod template.
	Labels map[string]string
	// Strategy is the Deployment's; the API server's default (a rolling
	// update, 25 % unavailable and 25 % surge) when empty.
	Strategy appsv1.DeploymentStrategy
}

// CreateDeployment creates a Deployment whose pods kwok runs.
func (e *Env) CreateDeployment(t testing.TB, ns, name string, o DeploymentOptions) *appsv1.Deployment {
	t.Helper()
	if o.Replicas == 0 {
		o.Replicas = 1
	}
	podLabels := map[string]string{"app": name}
	for k, v := range o.Labels {
		podLabels[k] = v
	}
	if o.NeverReady {
		podLabels[controlplane.NeverReadyLabel] = "true"
	}
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{"app": name}},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(o.Replicas),
			Strategy: o.Strategy,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: podLabels},
				Spec: corev1.PodSpec{
					Containers: []corev1.Container{{Name: "app", Image: "registry.example/" + name + ":1"}},
				},
			},
		},
	}
	created, err := e.Clientset.AppsV1().Deployments(ns).Create(context.Background(), d, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating Deployment %s/%s: %v", ns, name, err)
	}
	return created
}

// WaitRolledOut waits until the Deployment's rollout is complete, as
// `kubectl rollout status` judges it.
// WaitOnRevision waits until the Deployment ns/name is rolled out and
// then checks that it has pods and every one runs rev.
func (e *Env) WaitOnRevision(ctx context.Context, ns, name, rev string, timeout time.Duration) error {
	if err := e.WaitRolledOut(ctx, ns, name, timeout); err != nil {
		return err
	}
	sidecars, err := e.Sidecars(ctx, ns, map[string]string{"app": name})
	if err != nil {
		return err
	}
	if len(sidecars) == 0 {
		return fmt.Errorf("%s/%s has no pods, want them on %s", ns, name, rev)
	}
	for _, s := range sidecars {
		if s.Revision != rev {
			return fmt.Errorf("%s/%s: pod %s on %q, want %s", ns, name, s.Pod, s.Revision, rev)
		}
	}
	return nil
}

func (e *Env) WaitRolledOut(ctx context.Context, ns, name string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var last string
	for time.Now().Before(deadline) {
		d, err := e.Clientset.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		st := rollout.Deployment(d)
		if st.Done {
			return nil
		}
		last = st.Message
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("Deployment %s/%s not rolled out after %s: %s", ns, name, timeout, last)
}

// Sidecar is what istiod injected into one pod, and whether it is ready.
type Sidecar struct {
	mesh.Sidecar
	Pod   string
	Ready bool
}

// Sidecars reads the injected sidecar of every live pod matching selector.
func (e *Env) Sidecars(ctx context.Context, ns string, selector map[string]string) ([]Sidecar, error) {
	pods, err := e.Clientset.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: labels.SelectorFromSet(selector).String()})
	if err != nil {
		return nil, err
	}
	var out []Sidecar
	for _, p := range pods.Items {
		if p.DeletionTimestamp != nil {
			continue
		}
		out = append(out, SidecarOf(&p))
	}
	return out, nil
}

// SidecarOf reads the sidecar istiod injected into pod (mesh.SidecarOf,
// the same reading meshops does) and the pod's readiness.
func SidecarOf(p *corev1.Pod) Sidecar {
	s := Sidecar{Sidecar: mesh.SidecarOf(p), Pod: p.Name}
	for _, cond := range p.Status.Conditions {
		if cond.Type == corev1.PodReady && cond.Status == corev1.ConditionTrue {
			s.Ready = true
		}
	}
	return s
}

// SetTagByHand points revision tag at rev the way istioctl's tag webhook
// does, written directly with client-go: copies the revision injector's
// webhooks, labelled istio.io/tag=<tag> and istio.io/rev=<rev>, with the
// namespace selector matching the tag. The harness needs it before and
// besides meshops' own tag code; meshops' conformance tests compare theirs
// with istioctl's output instead.
func (e *Env) SetTagByHand(ctx context.Context, tag, rev string) error {
	injector, err := e.Clientset.AdmissionregistrationV1().MutatingWebhookConfigurations().Get(ctx,
		mesh.InjectorWebhookName(rev, controlplane.IstioNamespace), metav1.GetOptions{})
	if err != nil {
		return err
	}
	name := mesh.TagWebhookName(tag, controlplane.IstioNamespace)
	wh := &admissionregistrationv1.MutatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{
			mesh.TagLabel: tag, mesh.RevisionLabel: rev, "app": "sidecar-injector",
		}},
	}
	for _, h := range injector.Webhooks {
		h := *h.DeepCopy()
		replaceRev := func(sel *metav1.LabelSelector) {
			if sel == nil {
				return
			}
			for i, r := range sel.MatchExpressions {
				if r.Key == "istio.io/rev" && r.Operator == metav1.LabelSelectorOpIn {
					sel.MatchExpressions[i].Values = []string{tag}
				}
			}
		}
		replaceRev(h.NamespaceSelector)
		replaceRev(h.ObjectSelector)
		wh.Webhooks = append(wh.Webhooks, h)
	}
	existing, err := e.Clientset.AdmissionregistrationV1().MutatingWebhookConfigurations().Get(ctx, name, metav1.GetOptions{})
	if err == nil {
		existing.Labels, existing.Webhooks = wh.Labels, wh.Webhooks
		_, err = e.Clientset.AdmissionregistrationV1().MutatingWebhookConfigurations().Update(ctx, existing, metav1.UpdateOptions{})
		return err
	}
	_, err = e.Clientset.AdmissionregistrationV1().MutatingWebhookConfigurations().Create(ctx, wh, metav1.CreateOptions{})
	return err
}

// RolloutRestart does what `kubectl rollout restart` does.
func (e *Env) RolloutRestart(ctx context.Context, ns, name string) error {
	patch := fmt.Sprintf(`{"spec":{"template":{"metadata":{"annotations":{"kubectl.kubernetes.io/restartedAt":%q}}}}}`,
		time.Now().Format(time.RFC3339Nano))
	_, err := e.Clientset.AppsV1().Deployments(ns).Patch(ctx, name, types.StrategicMergePatchType, []byte(patch), metav1.PatchOptions{})
	return err
}

// MakeRevisionUnhealthy scales the revision's istiod-<rev> stand-in
// Deployment to zero, which is what meshops reads as control-plane health.
// Its istiod process keeps running; use Cluster.StopIstiod to stop that too.
func (e *Env) MakeRevisionUnhealthy(ctx context.Context, rev string) error {
	patch := []byte(`{"spec":{"replicas":0}}`)
	_, err := e.Clientset.AppsV1().Deployments(controlplane.IstioNamespace).Patch(ctx, "istiod-"+rev,
		types.MergePatchType, patch, metav1.PatchOptions{})
	return err
}

// Meshops builds what meshops' engines talk to the cluster through, as the
// CLI builds it: a client with a dynamic REST mapper (Istio kinds resolve),
// the fluxcd/pkg/ssa resource manager with meshops' field manager, and a
// state store in a namespace of the test's own.
func (e *Env) Meshops(t testing.TB) (plan.Cluster, *state.Store) {
	t.Helper()
	return e.MeshopsWith(t, e.Cluster.Config)
}

// MeshopsWith is Meshops through cfg: a copy of Cluster.Config with, say,
// a transport wrapper that counts meshops' requests.
func (e *Env) MeshopsWith(t testing.TB, cfg *rest.Config) (plan.Cluster, *state.Store) {
	t.Helper()
	o := reconcile.DefaultClusterOptions()
	o.StateNamespace = e.Namespace(t, nil)
	c, store, err := reconcile.NewCluster(cfg, o)
	if err != nil {
		t.Fatal(err)
	}
	return c, store
}

// TagRevision is the revision tag's webhook points at, "" when the tag
// does not exist.
func (e *Env) TagRevision(ctx context.Context, tag string) string {
	wh, err := e.Clientset.AdmissionregistrationV1().MutatingWebhookConfigurations().Get(ctx,
		mesh.TagWebhookName(tag, controlplane.IstioNamespace), metav1.GetOptions{})
	if err != nil {
		return ""
	}
	rev, _ := mesh.TagTarget(wh)
	return rev
}
