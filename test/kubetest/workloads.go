package kubetest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync/atomic"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Create creates obj or fails the test.
func (e *Env) Create(t testing.TB, obj client.Object) {
	t.Helper()
	if err := e.Client.Create(context.Background(), obj); err != nil {
		t.Fatalf("creating %T %s: %v", obj, obj.GetName(), err)
	}
}

// ControllerRef makes owner the controller of an object.
func ControllerRef(kind, apiVersion string, owner client.Object) []metav1.OwnerReference {
	return []metav1.OwnerReference{{APIVersion: apiVersion, Kind: kind, Name: owner.GetName(), UID: owner.GetUID(), Controller: ptr.To(true)}}
}

// InjectedPod is a pod as istiod's injector leaves it: a native
// istio-proxy sidecar and the sidecar status annotation.
func InjectedPod(ns, name, rev string, owners []metav1.OwnerReference) *corev1.Pod {
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

// PodTemplate is the template of the workloads the tests seed.
var PodTemplate = corev1.PodTemplateSpec{
	ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "x"}},
	Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.example/app:1"}}},
}

// SeedWorkloads creates, in ns, a Deployment (through its ReplicaSet) with
// two pods on rev, a StatefulSet pod, a CronJob's Job pod and a bare pod.
func (e *Env) SeedWorkloads(t testing.TB, ns, rev string) {
	t.Helper()
	// envtest has no namespace controller: without this, later tests would
	// see these pods stranded on a revision their config does not list.
	t.Cleanup(func() {
		_ = e.Client.DeleteAllOf(context.Background(), &corev1.Pod{}, client.InNamespace(ns), client.GracePeriodSeconds(0))
	})
	sel := &metav1.LabelSelector{MatchLabels: map[string]string{"app": "x"}}
	d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "frontend"},
		Spec: appsv1.DeploymentSpec{Selector: sel, Template: PodTemplate}}
	e.Create(t, d)
	rs := &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "frontend-abc", OwnerReferences: ControllerRef("Deployment", "apps/v1", d)},
		Spec: appsv1.ReplicaSetSpec{Selector: sel, Template: PodTemplate}}
	e.Create(t, rs)
	e.Create(t, InjectedPod(ns, "frontend-abc-1", rev, ControllerRef("ReplicaSet", "apps/v1", rs)))
	e.Create(t, InjectedPod(ns, "frontend-abc-2", rev, ControllerRef("ReplicaSet", "apps/v1", rs)))

	sts := &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "db"},
		Spec: appsv1.StatefulSetSpec{Selector: sel, Template: PodTemplate}}
	e.Create(t, sts)
	e.Create(t, InjectedPod(ns, "db-0", rev, ControllerRef("StatefulSet", "apps/v1", sts)))

	jobTemplate := PodTemplate
	jobTemplate.Spec.RestartPolicy = corev1.RestartPolicyNever
	cj := &batchv1.CronJob{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "cleanup"},
		Spec: batchv1.CronJobSpec{Schedule: "0 * * * *", JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: jobTemplate}}}}
	e.Create(t, cj)
	job := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "cleanup-1", OwnerReferences: ControllerRef("CronJob", "batch/v1", cj)},
		Spec: batchv1.JobSpec{Template: jobTemplate}}
	job.Spec.Template.Labels = map[string]string{"app": "x", "batch.kubernetes.io/controller-uid": "x"}
	job.Spec.ManualSelector = ptr.To(true)
	job.Spec.Selector = sel
	e.Create(t, job)
	e.Create(t, InjectedPod(ns, "cleanup-1-xyz", rev, ControllerRef("Job", "batch/v1", job)))

	e.Create(t, InjectedPod(ns, "debug", rev, nil))
}

// CountingClient returns a client, with watch as cmd/meshops builds it,
// whose every HTTP request is counted, and among them the streaming lists
// (watches with sendInitialEvents).
func (e *Env) CountingClient(t testing.TB) (c client.WithWatch, requests, streams *atomic.Int64) {
	t.Helper()
	requests, streams = new(atomic.Int64), new(atomic.Int64)
	c, err := client.NewWithWatch(e.CountingConfig(requests, streams, false), client.Options{Scheme: e.Scheme, Mapper: e.Mapper})
	if err != nil {
		t.Fatal(err)
	}
	return c, requests, streams
}

// CountingConfig is e's REST config with every HTTP request counted into
// requests, and the streaming lists among them into streams. With
// refuseStreams it answers a streaming list as an API server with the
// WatchList feature off (Kubernetes 1.33's default) does: 422 Invalid.
func (e *Env) CountingConfig(requests, streams *atomic.Int64, refuseStreams bool) *rest.Config {
	cfg := rest.CopyConfig(e.Config)
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper {
		return roundTripFunc(func(r *http.Request) (*http.Response, error) {
			requests.Add(1)
			if r.URL.Query().Get("sendInitialEvents") != "true" {
				return rt.RoundTrip(r)
			}
			streams.Add(1)
			if !refuseStreams {
				return rt.RoundTrip(r)
			}
			status := apierrors.NewInvalid(schema.GroupKind{Group: "meta.k8s.io", Kind: "ListOptions"}, "",
				field.ErrorList{field.Forbidden(field.NewPath("sendInitialEvents"), "sendInitialEvents is forbidden for watch unless the WatchList feature gate is enabled")}).Status()
			status.APIVersion, status.Kind = "v1", "Status"
			body, err := json.Marshal(status)
			if err != nil {
				return nil, err
			}
			return &http.Response{StatusCode: http.StatusUnprocessableEntity, Header: http.Header{"Content-Type": {"application/json"}},
				Body: io.NopCloser(bytes.NewReader(body)), Request: r}, nil
		})
	})
	return cfg
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
