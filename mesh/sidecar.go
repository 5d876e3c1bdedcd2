package mesh

import (
	"encoding/json"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

const (
	// SidecarStatusAnnotation is written by the injector on every pod it
	// injects; its JSON carries the injecting revision.
	SidecarStatusAnnotation = "sidecar.istio.io/status"
	// ProxyContainer is the injected proxy's container name.
	ProxyContainer = "istio-proxy"
)

// Sidecar is what a pod's injected proxy tells about the mesh.
type Sidecar struct {
	// Injected is false for pods without an istio-proxy container.
	Injected bool
	// Revision that injected the pod; empty when nothing says.
	Revision string
	// Image of the istio-proxy container, for patch drift.
	Image string
	// Native is true when istio-proxy runs as an init container with
	// restartPolicy Always (Kubernetes native sidecars, 1.33+ nodes).
	Native bool
	// OptedOut is true when the pod asks not to be injected
	// (sidecar.istio.io/inject: "false", as a label or an annotation) or
	// runs on the host network, which the injector always skips: a pod
	// without a proxy in a mesh namespace is then intended, not missed.
	OptedOut bool
}

// InjectLabel is how a pod opts out of (or into) injection; Istio reads it
// as a label and, for older pods, as an annotation.
const InjectLabel = "sidecar.istio.io/inject"

// SidecarOf reads the sidecar of pod. The revision comes from the
// sidecar.istio.io/status annotation; pods injected by very old proxies lack
// it, so the pod's istio.io/rev annotation is the fallback.
func SidecarOf(pod *corev1.Pod) Sidecar {
	var s Sidecar
	s.OptedOut = pod.Labels[InjectLabel] == "false" || pod.Annotations[InjectLabel] == "false" || pod.Spec.HostNetwork
	for _, c := range pod.Spec.InitContainers {
		if c.Name == ProxyContainer && c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			s.Injected, s.Native, s.Image = true, true, c.Image
		}
	}
	for _, c := range pod.Spec.Containers {
		if c.Name == ProxyContainer {
			s.Injected, s.Image = true, c.Image
		}
	}
	if raw, ok := pod.Annotations[SidecarStatusAnnotation]; ok {
		var status struct {
			Revision string `json:"revision"`
		}
		if json.Unmarshal([]byte(raw), &status) == nil {
			s.Revision = status.Revision
		}
		// The annotation alone shows injection even when the proxy was
		// renamed by a custom template.
		s.Injected = true
	}
	if s.Revision == "" && s.Injected {
		s.Revision = pod.Annotations[RevisionLabel]
	}
	return s
}

// ImageTag is the tag part of an image reference ("" when none), for
// comparing proxy versions without caring about the registry.
func ImageTag(image string) string {
	if i := strings.LastIndex(image, "@"); i >= 0 {
		image = image[:i]
	}
	slash := strings.LastIndex(image, "/")
	if i := strings.LastIndex(image, ":"); i > slash {
		return image[i+1:]
	}
	return ""
}
