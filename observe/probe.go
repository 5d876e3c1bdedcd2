package observe

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/meshops/meshops/mesh"
)

// ProbeLabel marks injection probes, so webhooks, audit logs and people can
// tell them from workloads.
const ProbeLabel = "meshops.io/injection-probe"

// Probe asks the cluster which sidecar a new pod in namespace would get
// today: a server-side dry-run create passes through the mutating webhooks
// (istiod's have sideEffects None) and stores nothing. The gate uses it to
// see that the tag injects the target revision before any restart, and the
// planner to find the proxy image for patch drift.
func Probe(ctx context.Context, c client.Client, namespace string) (mesh.Sidecar, error) {
	return probe(ctx, c, namespace, nil)
}

// ProbeRevision asks which sidecar a pod that opts into rev by its own
// istio.io/rev label gets, in a namespace that carries no mesh label: the
// revision's object-selector webhook answers. It shows that rev's injector
// works before any namespace depends on it.
func ProbeRevision(ctx context.Context, c client.Client, namespace, rev string) (mesh.Sidecar, error) {
	return probe(ctx, c, namespace, map[string]string{mesh.RevisionLabel: rev})
}

func probe(ctx context.Context, c client.Client, namespace string, labels map[string]string) (mesh.Sidecar, error) {
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			GenerateName: "meshops-injection-probe-",
			Namespace:    namespace,
			Labels:       map[string]string{ProbeLabel: "true"},
		},
		Spec: corev1.PodSpec{
			Containers: []corev1.Container{{Name: "probe", Image: "meshops.invalid/injection-probe:0"}},
		},
	}
	for k, v := range labels {
		pod.Labels[k] = v
	}
	if err := c.Create(ctx, pod, client.DryRunAll); err != nil {
		return mesh.Sidecar{}, fmt.Errorf("injection probe in namespace %s: %w", namespace, err)
	}
	return mesh.SidecarOf(pod), nil
}
