package apply

import (
	"context"
	"fmt"
	"slices"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/meshops/meshops/plan"
	"github.com/meshops/meshops/ref"
	"github.com/meshops/meshops/rollout"
	"github.com/meshops/meshops/verify"
)

// verify checks the mesh after the moves: every restartable workload on the
// tag runs the target, no pod anywhere still runs a revision leaving
// versions (only then may that revision's objects be pruned), the ingress
// gateway is rolled out with an address, and then every check of package
// verify. Of its findings only errors about this rollout fail the step
// (verify.ConcernsRollout: the target's istiod, moved workloads without a
// proxy, the gateway's Services); the rest are reported in the step's
// message, since failing on them would roll back a revision that did not
// cause them.
func (r *run) verify(ctx context.Context) (string, error) {
	d := verify.DesiredFor(r.cfg)
	d.Tag, d.Target, d.MinReadyIstiod = r.p.Tag, r.p.Target, r.Options.MinReadyIstiod
	d.IstioNamespace, d.IngressNamespace = r.Options.IstioNamespace, r.Options.IngressNamespace
	vs, err := verify.Observe(ctx, r.Cluster.Client, d.Options)
	if err != nil {
		return "", err
	}
	snap := vs.Snapshot
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
	r.mu.Lock()
	moved := slices.Clone(r.restarted)
	r.mu.Unlock()
	var failing, others []verify.Finding
	for _, f := range verify.Check(vs, d) {
		if f.Severity == verify.Error && verify.ConcernsRollout(d, moved, f) {
			failing = append(failing, f)
			continue
		}
		r.log.Warn("verify finding", "rule", f.Rule, "severity", f.Severity, "object", f.Object.String(), "problem", f.Problem, "fix", f.Fix)
		others = append(others, f)
	}
	if len(failing) > 0 {
		return "", fmt.Errorf("verify: %s", verify.Summary(failing, len(failing)))
	}
	r.verified = true
	msg := fmt.Sprintf("every workload on %s runs %s; %s", r.p.Tag, r.p.Target, gw)
	if len(others) > 0 {
		msg += fmt.Sprintf("; %d finding(s) outside this rollout (meshops verify lists them): %s", len(others), verify.Summary(others, 3))
	}
	return msg, nil
}

// ingressHealthy: the gateway Deployments are rolled out. Their Services
// (address, public IP) are verify's rule (ingress-service), checked after.
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
	return "ingress gateway healthy", nil
}
