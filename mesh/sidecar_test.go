package mesh

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

func TestSidecarOfReadsRevisionImageAndNativeness(t *testing.T) {
	always := ptr.To(corev1.ContainerRestartPolicyAlways)
	app := corev1.Container{Name: "app", Image: "registry.example/app:1"}
	tests := []struct {
		name string
		pod  corev1.Pod
		want Sidecar
	}{
		{
			name: "native sidecar with status annotation",
			pod: corev1.Pod{
				ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{
					SidecarStatusAnnotation: `{"initContainers":["istio-init","istio-proxy"],"revision":"asm-1-29"}`,
				}},
				Spec: corev1.PodSpec{
					InitContainers: []corev1.Container{
						{Name: "istio-init", Image: "mcr.microsoft.com/oss/istio/proxyv2:1.29.1"},
						{Name: "istio-proxy", Image: "mcr.microsoft.com/oss/istio/proxyv2:1.29.1", RestartPolicy: always},
					},
					Containers: []corev1.Container{app},
				},
			},
			want: Sidecar{Injected: true, Revision: "asm-1-29", Image: "mcr.microsoft.com/oss/istio/proxyv2:1.29.1", Native: true},
		},
		{
			name: "classic sidecar container",
			pod: corev1.Pod{
				ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{SidecarStatusAnnotation: `{"revision":"asm-1-28"}`}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{app, {Name: "istio-proxy", Image: "proxyv2:1.28.5"}}},
			},
			want: Sidecar{Injected: true, Revision: "asm-1-28", Image: "proxyv2:1.28.5"},
		},
		{
			name: "old proxy without status: istio.io/rev annotation is the fallback",
			pod: corev1.Pod{
				ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{RevisionLabel: "asm-1-27"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{app, {Name: "istio-proxy", Image: "proxyv2:1.27.0"}}},
			},
			want: Sidecar{Injected: true, Revision: "asm-1-27", Image: "proxyv2:1.27.0"},
		},
		{
			name: "malformed status JSON falls back to the annotation",
			pod: corev1.Pod{
				ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{SidecarStatusAnnotation: `{not json`, RevisionLabel: "asm-1-28"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{app, {Name: "istio-proxy", Image: "proxyv2:1.28.0"}}},
			},
			want: Sidecar{Injected: true, Revision: "asm-1-28", Image: "proxyv2:1.28.0"},
		},
		{
			name: "istio-init alone is not a sidecar; istio.io/rev on an uninjected pod means nothing",
			pod: corev1.Pod{
				ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{RevisionLabel: "asm-1-28"}},
				Spec: corev1.PodSpec{
					InitContainers: []corev1.Container{{Name: "istio-init", Image: "proxyv2:1.28.0"}},
					Containers:     []corev1.Container{app},
				},
			},
			want: Sidecar{},
		},
		{
			name: "a pod that opts out by label or annotation says so",
			pod: corev1.Pod{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{InjectLabel: "false"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{app}},
			},
			want: Sidecar{OptedOut: true},
		},
		{
			name: "opt-out as an annotation, as older pods write it",
			pod: corev1.Pod{
				ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{InjectLabel: "false"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{app}},
			},
			want: Sidecar{OptedOut: true},
		},
		{
			name: "a host-network pod is never injected",
			pod:  corev1.Pod{Spec: corev1.PodSpec{HostNetwork: true, Containers: []corev1.Container{app}}},
			want: Sidecar{OptedOut: true},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := SidecarOf(&tt.pod); got != tt.want {
				t.Errorf("SidecarOf() = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestImageTagIgnoresRegistryPortAndDigest(t *testing.T) {
	for image, want := range map[string]string{
		"mcr.microsoft.com/oss/istio/proxyv2:1.29.1":          "1.29.1",
		"localhost:5000/proxyv2:1.28.5":                       "1.28.5",
		"localhost:5000/proxyv2":                              "",
		"proxyv2:1.28.5@sha256:0123456789abcdef":              "1.28.5",
		"registry.istio.io/testing/proxyv2:1.29.0-distroless": "1.29.0-distroless",
	} {
		if got := ImageTag(image); got != want {
			t.Errorf("ImageTag(%q) = %q, want %q", image, got, want)
		}
	}
}
