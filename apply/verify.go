package apply

import (
	"context"
	"fmt"
	"slices"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/meshops/meshops/observe"
	"github.com/meshops/meshops/plan"
	"github.com/meshops/meshops/ref"
	"github.com/meshops/meshops/rollout"
)

// verify checks the mesh after the moves: every restartable workload on the
// tag runs the target, no pod anywhere still runs a revision leaving
// versions (only then may that revision's objects be pruned), and the
// ingress gateway is rolled out with an address.
func (r *run) verify(ctx context.Context) (string, error) {
	snap, err := observe.Observe(ctx, r.Cluster.Client, observe.Options{IstioNamespace: r.Options.IstioNamespace})
	if err != nil {
		return "", err
	}
	restart, stranded := plan.SplitWorkloads(snap, r.p.Tag, r.p.Target, r.cfg.Istio.VersionNames(), r.Options.Restart.DeleteBarePods)
	// Workloads broken before the upgrade that did not come up are
	// reported at the end of the run, not failed here.
	restart = slices.DeleteFunc(restart, func(w ref.Workload) bool { return slices.Contains(r.unhealthyFailed, w) })
	if len(restart) > 0 {
		off := make([]string, len(restart))
		for i, w := range restart {
			off[i] = w.String()
		}
		return "", fmt.Errorf("workloads on tag %s still run another revision than %s: %s", r.p.Tag, r.p.Target, strings.Join(off, ", "))
	}
	if len(stranded) > 0 {
		leaving := make([]string, len(stranded))
		for i, st := range stranded {
			leaving[i] = fmt.Sprintf("%s on %s", st.Workload, st.Revision)
		}
		return "", fmt.Errorf("pods still run revisions that leave versions: %s", strings.Join(leaving, ", "))
	}
	gw, err := r.ingressHealthy(ctx)
	if err != nil {
		return "", err
	}
	r.verified = true
	return fmt.Sprintf("every workload on %s runs %s; %s", r.p.Tag, r.p.Target, gw), nil
}

// ingressHealthy: the gateway Deployments are rolled out and every
// LoadBalancer Service in the ingress namespace has an address.
func (r *run) ingressHealthy(ctx context.Context) (string, error) {
	ns := r.Options.IngressNamespace
	var deploys appsv1.DeploymentList
	if err := r.Cluster.Client.List(ctx, &deploys, client.InNamespace(ns)); err != nil {
		return "", fmt.Errorf("listing the ingress gateway in %s: %w", ns, err)
	}
	if len(deploys.Items) == 0 {
		return "no ingress gateway in " + ns, nil
	}
	for i := range deploys.Items {
		if st := rollout.Deployment(&deploys.Items[i]); !st.Done {
			return "", fmt.Errorf("ingress gateway %s/%s unhealthy: %s", ns, deploys.Items[i].Name, st.Message)
		}
	}
	var svcs corev1.ServiceList
	if err := r.Cluster.Client.List(ctx, &svcs, client.InNamespace(ns)); err != nil {
		return "", fmt.Errorf("listing Services in %s: %w", ns, err)
	}
	for _, s := range svcs.Items {
		if s.Spec.Type == corev1.ServiceTypeLoadBalancer && len(s.Status.LoadBalancer.Ingress) == 0 {
			return "", fmt.Errorf("ingress gateway Service %s/%s has no address", ns, s.Name)
		}
	}
	return "ingress gateway healthy", nil
}
