package apply

import (
	"reflect"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/meshops/meshops/mesh"
)

// The pods' watch keeps a slim copy of each pod: whatever the pod, the
// copy reads as the same sidecar (mesh.SidecarOf) and keeps what the
// restart waits decide on, so slimming cannot drift from the reading.
func TestSlimPodReadsAsTheSameSidecarAndKeepsWhatTheWaitsRead(t *testing.T) {
	app := corev1.Container{Name: "app", Image: "registry.example/app:1", Args: []string{"--serve"}, Env: []corev1.EnvVar{{Name: "A", Value: "b"}}}
	status := map[string]string{mesh.SidecarStatusAnnotation: `{"revision":"asm-1-29","containers":["istio-proxy"]}`, "kubectl.kubernetes.io/last-applied-configuration": "{}"}
	for _, tc := range []struct {
		name string
		pod  corev1.Pod
	}{
		{"native sidecar", corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Annotations: status},
			Spec: corev1.PodSpec{InitContainers: []corev1.Container{
				{Name: "istio-validation", Image: "proxyv2:1.29.1"},
				{Name: mesh.ProxyContainer, Image: "mcr.microsoft.com/oss/istio/proxyv2:1.29.1", RestartPolicy: ptr.To(corev1.ContainerRestartPolicyAlways), Args: []string{"proxy"}},
			}, Containers: []corev1.Container{app}},
		}},
		{"classic sidecar", corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Annotations: status},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{app, {Name: mesh.ProxyContainer, Image: "proxyv2:1.28.5"}}},
		}},
		{"old proxy with only the istio.io/rev annotation", corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{mesh.RevisionLabel: "asm-1-28"}},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{app, {Name: mesh.ProxyContainer, Image: "proxyv2:1.28.5"}}},
		}},
		{"opted out by label", corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{mesh.InjectLabel: "false"}},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{app}},
		}},
		{"opted out by annotation", corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{mesh.InjectLabel: "false"}},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{app}},
		}},
		{"host network", corev1.Pod{Spec: corev1.PodSpec{HostNetwork: true, Containers: []corev1.Container{app}}}},
		{"not injected", corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{app}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			full := tc.pod.DeepCopy()
			full.Name, full.Namespace, full.ResourceVersion = "api-1", "maestro", "42"
			if full.Labels == nil {
				full.Labels = map[string]string{}
			}
			full.Labels["app"] = "api"
			full.OwnerReferences = []metav1.OwnerReference{{Kind: "ReplicaSet", Name: "api-abc", Controller: ptr.To(true)}}
			full.DeletionTimestamp = &metav1.Time{Time: time.Unix(1, 0)}
			full.Status = corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "10.0.0.1", Conditions: []corev1.PodCondition{
				{Type: corev1.PodScheduled, Status: corev1.ConditionTrue},
				{Type: corev1.PodReady, Status: corev1.ConditionTrue, Message: "ok"},
			}}
			want := mesh.SidecarOf(full)
			out, err := slimPod(full.DeepCopy())
			if err != nil {
				t.Fatal(err)
			}
			slim := out.(*corev1.Pod)
			if got := mesh.SidecarOf(slim); got != want {
				t.Errorf("slim pod reads as %+v, the pod as %+v", got, want)
			}
			if slim.Name != full.Name || slim.Namespace != full.Namespace || slim.ResourceVersion != full.ResourceVersion ||
				!reflect.DeepEqual(slim.Labels, full.Labels) || !reflect.DeepEqual(slim.OwnerReferences, full.OwnerReferences) ||
				slim.DeletionTimestamp == nil || slim.Status.Phase != corev1.PodRunning {
				t.Errorf("slim pod %+v lost what the waits read of %+v", slim.ObjectMeta, full.ObjectMeta)
			}
			if len(slim.Status.Conditions) != 1 || slim.Status.Conditions[0].Type != corev1.PodReady || slim.Status.Conditions[0].Status != corev1.ConditionTrue {
				t.Errorf("slim pod conditions %+v, want its readiness alone", slim.Status.Conditions)
			}
			if _, kept := slim.Annotations["kubectl.kubernetes.io/last-applied-configuration"]; kept || slim.Status.PodIP != "" {
				t.Errorf("slim pod kept what no wait reads: %+v", slim)
			}
			for _, c := range append(slim.Spec.InitContainers, slim.Spec.Containers...) {
				if c.Name != mesh.ProxyContainer || len(c.Args) > 0 {
					t.Errorf("slim pod kept container %+v", c)
				}
			}
		})
	}
}
