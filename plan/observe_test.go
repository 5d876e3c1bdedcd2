package plan

import (
	"context"
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/meshops/meshops/test/kubetest"
	"github.com/meshops/meshops/test/simmesh"
)

var env *kubetest.Env

func TestMain(m *testing.M) { kubetest.Main(m, &env) }

func create(t *testing.T, obj client.Object) {
	t.Helper()
	if err := env.Client.Create(context.Background(), obj); err != nil {
		t.Fatalf("creating %T %s: %v", obj, obj.GetName(), err)
	}
}

func controllerRef(kind, apiVersion string, owner client.Object) []metav1.OwnerReference {
	return []metav1.OwnerReference{{APIVersion: apiVersion, Kind: kind, Name: owner.GetName(), UID: owner.GetUID(), Controller: ptr.To(true)}}
}

// injectedPod is a pod as istiod's injector leaves it: a native
// istio-proxy sidecar and the sidecar status annotation.
func injectedPod(ns, name, rev string, owners []metav1.OwnerReference) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: ns, Name: name, OwnerReferences: owners,
			Annotations: map[string]string{"sidecar.istio.io/status": fmt.Sprintf(`{"revision":%q}`, rev)},
		},
		Spec: corev1.PodSpec{
			InitContainers: []corev1.Container{{
				Name: "istio-proxy", Image: "mcr.microsoft.com/oss/istio/proxyv2:" + rev,
				RestartPolicy: ptr.To(corev1.ContainerRestartPolicyAlways),
			}},
			Containers: []corev1.Container{{Name: "app", Image: "registry.example/app:1"}},
		},
	}
}

var podTemplate = corev1.PodTemplateSpec{
	ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "x"}},
	Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.example/app:1"}}},
}

// seedWorkloads creates, in ns, a Deployment (through its ReplicaSet) with
// two pods on rev, a StatefulSet pod, a CronJob's Job pod and a bare pod.
func seedWorkloads(t *testing.T, ns, rev string) {
	t.Helper()
	// envtest has no namespace controller: without this, later tests would
	// see these pods stranded on a revision their config does not list.
	t.Cleanup(func() {
		_ = env.Client.DeleteAllOf(context.Background(), &corev1.Pod{}, client.InNamespace(ns), client.GracePeriodSeconds(0))
	})
	sel := &metav1.LabelSelector{MatchLabels: map[string]string{"app": "x"}}
	d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "frontend"},
		Spec: appsv1.DeploymentSpec{Selector: sel, Template: podTemplate}}
	create(t, d)
	rs := &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "frontend-abc", OwnerReferences: controllerRef("Deployment", "apps/v1", d)},
		Spec: appsv1.ReplicaSetSpec{Selector: sel, Template: podTemplate}}
	create(t, rs)
	create(t, injectedPod(ns, "frontend-abc-1", rev, controllerRef("ReplicaSet", "apps/v1", rs)))
	create(t, injectedPod(ns, "frontend-abc-2", rev, controllerRef("ReplicaSet", "apps/v1", rs)))

	sts := &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "db"},
		Spec: appsv1.StatefulSetSpec{Selector: sel, Template: podTemplate}}
	create(t, sts)
	create(t, injectedPod(ns, "db-0", rev, controllerRef("StatefulSet", "apps/v1", sts)))

	jobTemplate := podTemplate
	jobTemplate.Spec.RestartPolicy = corev1.RestartPolicyNever
	cj := &batchv1.CronJob{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "cleanup"},
		Spec: batchv1.CronJobSpec{Schedule: "0 * * * *", JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: jobTemplate}}}}
	create(t, cj)
	job := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "cleanup-1", OwnerReferences: controllerRef("CronJob", "batch/v1", cj)},
		Spec: batchv1.JobSpec{Template: jobTemplate}}
	job.Spec.Template.Labels = map[string]string{"app": "x", "batch.kubernetes.io/controller-uid": "x"}
	job.Spec.ManualSelector = ptr.To(true)
	job.Spec.Selector = sel
	create(t, job)
	create(t, injectedPod(ns, "cleanup-1-xyz", rev, controllerRef("Job", "batch/v1", job)))

	create(t, injectedPod(ns, "debug", rev, nil))
}

func TestObserveGroupsPodsByControllingOwnerWithTheirRevision(t *testing.T) {
	ctx := context.Background()
	sim := simmesh.DefaultOptions()
	sim.Namespace = env.Namespace(t, nil)
	sim.IngressNamespace = env.Namespace(t, nil)
	if err := simmesh.Install(ctx, env.Client, sim); err != nil {
		t.Fatal(err)
	}
	ns := env.Namespace(t, map[string]string{"istio.io/rev": "prod-stable"})
	seedWorkloads(t, ns, "asm-1-28")
	if err := simmesh.SetDeploymentReady(ctx, env.Client, sim.Namespace, "istiod-asm-1-29", false); err != nil {
		t.Fatal(err)
	}

	snap, err := Observe(ctx, env.Client, ObserveOptions{IstioNamespace: sim.Namespace})
	if err != nil {
		t.Fatal(err)
	}
	if ok, why := snap.ControlPlanes["asm-1-28"].Healthy(1); !ok {
		t.Errorf("asm-1-28 should be healthy: %s", why)
	}
	if ok, _ := snap.ControlPlanes["asm-1-29"].Healthy(1); ok {
		t.Error("asm-1-29 has no ready replicas and must not be healthy")
	}
	if got := snap.Namespaces[ns].Rev; got != "prod-stable" {
		t.Errorf("namespace %s istio.io/rev = %q", ns, got)
	}
	var got []string
	for _, w := range snap.Workloads {
		if w.Namespace == ns {
			got = append(got, fmt.Sprintf("%s pods=%d revisions=%v", w.ID(), len(w.Pods), w.Revisions()))
		}
	}
	want := []string{
		fmt.Sprintf("CronJob/%s/cleanup pods=1 revisions=map[asm-1-28:1]", ns),
		fmt.Sprintf("Deployment/%s/frontend pods=2 revisions=map[asm-1-28:2]", ns),
		fmt.Sprintf("Pod/%s/debug pods=1 revisions=map[asm-1-28:1]", ns),
		fmt.Sprintf("StatefulSet/%s/db pods=1 revisions=map[asm-1-28:1]", ns),
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("workloads:\n got %v\nwant %v", got, want)
	}
}

// countingClient returns a client, with watch as cmd/meshops builds it,
// whose every HTTP request is counted.
func countingClient(t testing.TB) (client.WithWatch, *atomic.Int64) {
	c, n, _ := streamCountingClient(t)
	return c, n
}

// streamCountingClient is countingClient that also counts the streaming
// lists (watches with sendInitialEvents) among the requests.
func streamCountingClient(t testing.TB) (client.WithWatch, *atomic.Int64, *atomic.Int64) {
	t.Helper()
	var n, streams atomic.Int64
	cfg := rest.CopyConfig(env.Config)
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper {
		return roundTripFunc(func(r *http.Request) (*http.Response, error) {
			n.Add(1)
			if r.URL.Query().Get("sendInitialEvents") == "true" {
				streams.Add(1)
			}
			return rt.RoundTrip(r)
		})
	})
	c, err := client.NewWithWatch(cfg, client.Options{Scheme: env.Scheme, Mapper: env.Mapper})
	if err != nil {
		t.Fatal(err)
	}
	return c, &n, &streams
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestObserveCostsTheSameRequestsWhateverTheNumberOfObjects(t *testing.T) {
	ctx := context.Background()
	c, n, streams := streamCountingClient(t)
	measure := func() int64 {
		// Warm the client's discovery first, so only Observe is counted.
		if _, err := Observe(ctx, c, DefaultObserveOptions()); err != nil {
			t.Fatal(err)
		}
		before, streamsBefore := n.Load(), streams.Load()
		if _, err := Observe(ctx, c, DefaultObserveOptions()); err != nil {
			t.Fatal(err)
		}
		// Pods and their owners stream; the rest are small lists.
		if got := streams.Load() - streamsBefore; got != 3 {
			t.Errorf("Observe streamed %d lists, want 3 (Pods, ReplicaSets, Jobs)", got)
		}
		return n.Load() - before
	}
	seedWorkloads(t, env.Namespace(t, nil), "asm-1-28")
	small := measure()
	for i := 0; i < 10; i++ {
		seedWorkloads(t, env.Namespace(t, nil), "asm-1-29")
	}
	large := measure()
	if small != large {
		t.Errorf("Observe made %d requests with 1 namespace of workloads and %d with 11; it must not grow", small, large)
	}
	// One list or stream per kind: webhooks, istiod Deployments,
	// Namespaces, Pods, ReplicaSets, Jobs.
	if large != 6 {
		t.Errorf("Observe made %d requests, want 6 (one list per kind)", large)
	}
}
