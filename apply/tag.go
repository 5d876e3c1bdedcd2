package apply

import (
	"context"
	"fmt"
	"time"

	"github.com/fluxcd/pkg/ssa"
	"github.com/fluxcd/pkg/ssa/jsondiff"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/meshops/meshops/mesh"
	"github.com/meshops/meshops/observe"
)

// gate checks that rev may take traffic: istiod fully rolled out with the
// ready floor and its injector webhook present, read fresh from the API
// server rather than from the plan's snapshot.
func (r *run) health(ctx context.Context, rev string) (bool, string, error) {
	var d appsv1.Deployment
	err := r.Cluster.Client.Get(ctx, key(r.Options.IstioNamespace, mesh.IstiodName(rev)), &d)
	if apierrors.IsNotFound(err) {
		cp := mesh.ControlPlaneFromDeployment(rev, nil, false)
		ok, why := cp.Healthy(r.Options.MinReadyIstiod)
		return ok, why, nil
	}
	if err != nil {
		return false, "", fmt.Errorf("reading %s: %w", mesh.IstiodName(rev), err)
	}
	injector, err := r.injector(ctx, rev)
	if err != nil {
		return false, "", err
	}
	ok, why := mesh.ControlPlaneFromDeployment(rev, &d, injector != nil).Healthy(r.Options.MinReadyIstiod)
	return ok, why, nil
}

// injector is rev's own injector webhook (not a tag's), nil when absent.
func (r *run) injector(ctx context.Context, rev string) (*admissionregistrationv1.MutatingWebhookConfiguration, error) {
	var list admissionregistrationv1.MutatingWebhookConfigurationList
	if err := r.Cluster.Client.List(ctx, &list, client.MatchingLabels{mesh.RevisionLabel: rev}); err != nil {
		return nil, fmt.Errorf("listing the injector webhooks of %s: %w", rev, err)
	}
	var found *admissionregistrationv1.MutatingWebhookConfiguration
	for i := range list.Items {
		wh := &list.Items[i]
		if _, isTag := wh.Labels[mesh.TagLabel]; isTag {
			continue
		}
		// The chart's name wins over any other webhook with the label.
		if found == nil || wh.Name == mesh.InjectorWebhookName(rev, r.Options.IstioNamespace) {
			found = wh
		}
	}
	return found, nil
}

// gate is the plan's gate step: the target is healthy and its injector
// really injects it. It must pass in this run before the tag moves or any
// workload restarts.
func (r *run) gate(ctx context.Context) (string, error) {
	ok, why, err := r.health(ctx, r.p.Target)
	if err != nil {
		return "", err
	}
	if !ok {
		return "", fmt.Errorf("target revision not ready, nothing moved: %s", why)
	}
	probe, err := observe.ProbeRevision(ctx, r.Cluster.Client, r.Options.ProbeNamespace, r.p.Target)
	if err != nil {
		return "", err
	}
	if probe.Revision != r.p.Target {
		return "", fmt.Errorf("a pod opting into %s is injected by %q, not %s: its injector does not work, nothing moved", r.p.Target, probe.Revision, r.p.Target)
	}
	r.gated = true
	return why + "; probe injected by " + r.p.Target, nil
}

// moveTag points the tag at the target, then checks with the injection
// probe that a new pod on the tag gets the target before anything restarts.
func (r *run) moveTag(ctx context.Context) (string, error) {
	if !r.gated {
		return "", fmt.Errorf("refusing to move tag %s: the gate has not passed in this run", r.p.Tag)
	}
	if err := r.setTag(ctx, r.p.Target); err != nil {
		return "", err
	}
	r.tagMoved, r.res.TagMoved = true, true
	if err := r.waitTagInjects(ctx, r.p.Target); err != nil {
		return "", err
	}
	return fmt.Sprintf("tag %s on %s; probe injected by %s", r.p.Tag, r.p.Target, r.p.Target), nil
}

// setTag writes the tag webhook and Service as `istioctl tag set
// --overwrite` does, by server-side apply. istiod rewrites caBundle and
// failurePolicy on every webhook labelled with its revision: those fields
// are not drift, or meshops and istiod would fight forever.
func (r *run) setTag(ctx context.Context, rev string) error {
	ns := r.Options.IstioNamespace
	injector, err := r.injector(ctx, rev)
	if err != nil {
		return err
	}
	if injector == nil {
		return fmt.Errorf("revision %s has no injector webhook to point tag %s at", rev, r.p.Tag)
	}
	wh, err := mesh.TagWebhook(injector, r.p.Tag, rev, ns)
	if err != nil {
		return err
	}
	var istiod corev1.Service
	if err := r.Cluster.Client.Get(ctx, key(ns, mesh.IstiodName(rev)), &istiod); err != nil {
		return fmt.Errorf("reading Service %s/%s: %w", ns, mesh.IstiodName(rev), err)
	}
	svc, err := mesh.TagService(&istiod, r.p.Tag, rev, ns)
	if err != nil {
		return err
	}
	var ignore []string
	for i := range wh.Webhooks {
		ignore = append(ignore, fmt.Sprintf("/webhooks/%d/clientConfig/caBundle", i), fmt.Sprintf("/webhooks/%d/failurePolicy", i))
	}
	for _, obj := range []runtime.Object{svc, wh} {
		u, err := toUnstructured(obj)
		if err != nil {
			return err
		}
		opts := ssa.ApplyOptions{}
		if u.GetKind() == "MutatingWebhookConfiguration" {
			opts.DriftIgnoreRules = []jsondiff.IgnoreRule{{Paths: ignore}}
		}
		if _, err := r.Cluster.RM.Apply(ctx, u, opts); err != nil {
			return fmt.Errorf("pointing tag %s at %s: %w", r.p.Tag, rev, err)
		}
	}
	r.log.Info("tag set", "tag", r.p.Tag, "revision", rev)
	return nil
}

// waitTagInjects probes a namespace on the tag until new pods get rev. The
// API server's webhook configuration cache takes a moment to follow a
// change; past the bound the tag is not working and nothing may restart.
func (r *run) waitTagInjects(ctx context.Context, rev string) error {
	ns := r.tagNamespace()
	if ns == "" {
		r.log.Info("no namespace on the tag yet; injection probe skipped", "tag", r.p.Tag)
		return nil
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		probe, err := observe.Probe(ctx, r.Cluster.Client, ns)
		if err == nil && probe.Revision == rev {
			return nil
		}
		if time.Now().After(deadline) {
			if err != nil {
				return fmt.Errorf("after moving tag %s to %s: %w", r.p.Tag, rev, err)
			}
			return fmt.Errorf("after moving tag %s to %s, a new pod in %s is still injected by %q: stopped before any restart", r.p.Tag, rev, ns, probe.Revision)
		}
		if err := sleep(ctx, r.Options.PollInterval); err != nil {
			return err
		}
	}
}

// tagNamespace is a mesh namespace labelled with the tag, for probes.
func (r *run) tagNamespace() string {
	for _, name := range r.cfg.Settings.Extensions.Namespaces {
		var ns corev1.Namespace
		if err := r.Cluster.Client.Get(context.Background(), key("", name), &ns); err == nil && ns.Labels[mesh.RevisionLabel] == r.p.Tag {
			return name
		}
	}
	return ""
}

func toUnstructured(obj runtime.Object) (*unstructured.Unstructured, error) {
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		return nil, err
	}
	u := &unstructured.Unstructured{Object: m}
	unstructured.RemoveNestedField(u.Object, "metadata", "creationTimestamp")
	unstructured.RemoveNestedField(u.Object, "status")
	return u, nil
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
