package observe

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/meshops/meshops/mesh"
	"github.com/meshops/meshops/ref"
)

// Options say where the mesh lives. DefaultOptions gives the AKS add-on's
// layout.
type Options struct {
	// IstioNamespace runs the istiod-<rev> Deployments. Default aks-istio-system.
	IstioNamespace string
	// IngressNamespace and IngressService name the shared gateway's
	// LoadBalancer Service; not read when IngressService is empty.
	IngressNamespace, IngressService string
}

// DefaultOptions is the AKS layout.
func DefaultOptions() Options {
	return Options{IstioNamespace: mesh.AKSIstioNamespace}
}

// Snapshot is the cluster as meshops saw it in one pass.
type Snapshot struct {
	// ControlPlanes by revision: every istiod Deployment found, plus every
	// revision that has only an injector webhook.
	ControlPlanes map[string]mesh.ControlPlane
	// Tags by tag name.
	Tags map[string]Tag
	// Namespaces by name, with their mesh labels.
	Namespaces map[string]Namespace
	// Workloads sorted by namespace, kind and name.
	Workloads []Workload
	// Injectors are every injecting webhook configuration, for overlap checks.
	Injectors []*admissionregistrationv1.MutatingWebhookConfiguration
	// Ingress is the gateway's Service; nil when absent or not asked for.
	Ingress *Ingress
}

// Ingress is the shared gateway Service: its annotations and address.
type Ingress struct {
	Namespace, Name string
	Annotations     map[string]string
	// Address is its load balancer's IP or hostname, "" until assigned.
	Address string
}

// Tag is one revision tag's webhook and where it points.
type Tag struct {
	Name     string
	Webhook  string
	Revision string
}

// Namespace is a namespace's mesh labels.
type Namespace struct {
	Name string
	// Rev is its istio.io/rev label (a revision or a tag), "" when unset.
	Rev string
	// Injection is its istio-injection label, which wins over istio.io/rev.
	Injection string
	// Labels are all its labels, for matching webhook selectors.
	Labels map[string]string
}

// Workload is the pods under one controlling owner and what runs in them.
type Workload struct {
	Kind      ref.WorkloadKind
	Namespace string
	Name      string
	Pods      []Pod
}

// Pod is one pod's phase and sidecar.
type Pod struct {
	Name    string
	Phase   corev1.PodPhase
	Sidecar mesh.Sidecar
	// Ready is the pod's Ready condition.
	Ready bool
}

// Unhealthy reports whether any of the workload's running pods is not
// ready: a workload broken before meshops touches it, which a restart
// onto any revision will not fix.
func (w Workload) Unhealthy() bool {
	for _, p := range w.Pods {
		if !p.Ready {
			return true
		}
	}
	return false
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// Revisions counts the workload's injected pods per revision ("" for pods
// injected by a proxy that did not say).
func (w Workload) Revisions() map[string]int {
	out := map[string]int{}
	for _, p := range w.Pods {
		if p.Sidecar.Injected {
			out[p.Sidecar.Revision]++
		}
	}
	return out
}

// OnTag reports whether w's namespace joins the mesh through tag, so that
// a restart moves it to wherever the tag points.
func (s *Snapshot) OnTag(w Workload, tag string) bool {
	return tag != "" && s.Namespaces[w.Namespace].Rev == tag
}

// Ref names the workload.
func (w Workload) Ref() ref.Workload {
	return ref.Workload{Kind: w.Kind, Namespace: w.Namespace, Name: w.Name}
}

// Observe reads the cluster once. It lists each kind once, cluster-wide,
// so its number of API requests does not grow with the number of objects.
func Observe(ctx context.Context, c client.Reader, opts Options) (*Snapshot, error) {
	if opts.IstioNamespace == "" {
		opts.IstioNamespace = DefaultOptions().IstioNamespace
	}
	s := &Snapshot{
		ControlPlanes: map[string]mesh.ControlPlane{},
		Tags:          map[string]Tag{},
		Namespaces:    map[string]Namespace{},
	}

	// Each read is independent of the others: they go out at once, so a
	// plan waits for the slowest, not for the sum of their round trips.
	var (
		webhooks   admissionregistrationv1.MutatingWebhookConfigurationList
		istiods    appsv1.DeploymentList
		namespaces corev1.NamespaceList
		ingress    *corev1.Service
		workloads  []Workload
	)
	var g reads
	g.Go(func() error {
		if err := c.List(ctx, &webhooks); err != nil {
			return fmt.Errorf("listing MutatingWebhookConfigurations: %w", err)
		}
		return nil
	})
	g.Go(func() error {
		if err := c.List(ctx, &istiods, client.InNamespace(opts.IstioNamespace), client.MatchingLabels{"app": "istiod"}); err != nil {
			return fmt.Errorf("listing istiod Deployments in %s: %w", opts.IstioNamespace, err)
		}
		return nil
	})
	g.Go(func() error {
		if err := c.List(ctx, &namespaces); err != nil {
			return fmt.Errorf("listing Namespaces: %w", err)
		}
		return nil
	})
	if opts.IngressService != "" {
		g.Go(func() error {
			var svc corev1.Service
			err := c.Get(ctx, types.NamespacedName{Namespace: opts.IngressNamespace, Name: opts.IngressService}, &svc)
			switch {
			case err == nil:
				ingress = &svc
			case !apierrors.IsNotFound(err):
				return fmt.Errorf("reading the ingress gateway Service %s/%s: %w", opts.IngressNamespace, opts.IngressService, err)
			}
			return nil
		})
	}
	g.Go(func() (err error) {
		workloads, err = observeWorkloads(ctx, c)
		return err
	})
	if err := g.Wait(); err != nil {
		return nil, err
	}

	injectorOf := map[string]bool{}
	for i := range webhooks.Items {
		wh := &webhooks.Items[i]
		if !isSidecarInjector(wh) {
			continue
		}
		s.Injectors = append(s.Injectors, wh)
		if tag := wh.Labels[mesh.TagLabel]; tag != "" {
			rev, _ := mesh.TagTarget(wh)
			s.Tags[tag] = Tag{Name: tag, Webhook: wh.Name, Revision: rev}
			continue
		}
		if rev := wh.Labels[mesh.RevisionLabel]; rev != "" {
			injectorOf[rev] = true
		}
	}

	for i := range istiods.Items {
		d := &istiods.Items[i]
		rev := d.Labels[mesh.RevisionLabel]
		if rev == "" {
			continue
		}
		s.ControlPlanes[rev] = mesh.ControlPlaneFromDeployment(rev, d, injectorOf[rev])
	}
	for rev := range injectorOf {
		if _, ok := s.ControlPlanes[rev]; !ok {
			s.ControlPlanes[rev] = mesh.ControlPlaneFromDeployment(rev, nil, true)
		}
	}

	for _, ns := range namespaces.Items {
		s.Namespaces[ns.Name] = Namespace{Name: ns.Name, Rev: ns.Labels[mesh.RevisionLabel], Injection: ns.Labels["istio-injection"], Labels: ns.Labels}
	}

	if svc := ingress; svc != nil {
		s.Ingress = &Ingress{Namespace: svc.Namespace, Name: svc.Name, Annotations: svc.Annotations}
		for _, in := range svc.Status.LoadBalancer.Ingress {
			s.Ingress.Address = in.IP + in.Hostname
		}
	}
	s.Workloads = workloads
	return s, nil
}

// isSidecarInjector tells Istio's injector webhooks (revision and tag ones)
// from every other mutating webhook: their entries are named
// *sidecar-injector.istio.io.
func isSidecarInjector(wh *admissionregistrationv1.MutatingWebhookConfiguration) bool {
	for _, h := range wh.Webhooks {
		if strings.HasSuffix(h.Name, "sidecar-injector.istio.io") {
			return true
		}
	}
	return false
}

// observeWorkloads groups every pod under its controlling owner, following
// ReplicaSets up to their Deployment and Jobs up to their CronJob. Each
// kind is streamed (eachObject), and only what a Workload keeps is kept:
// a fleet's pods, decoded whole, were most of a plan's memory.
func observeWorkloads(ctx context.Context, c client.Reader) ([]Workload, error) {
	// The owners and the pods are streamed at once; a pod's owner is
	// followed up once all three streams are read.
	type seen struct {
		namespace string
		owner     *metav1.OwnerReference
		pod       Pod
	}
	var (
		parents [2]map[types.UID]metav1.OwnerReference
		pods    []seen
	)
	var g reads
	// Owners need only their metadata.
	for i, owners := range []struct {
		gvk   schema.GroupVersionKind
		above string
	}{
		{appsv1.SchemeGroupVersion.WithKind("ReplicaSetList"), "Deployment"},
		{batchv1.SchemeGroupVersion.WithKind("JobList"), "CronJob"},
	} {
		parent := map[types.UID]metav1.OwnerReference{}
		parents[i] = parent
		g.Go(func() error {
			list := &metav1.PartialObjectMetadataList{}
			list.SetGroupVersionKind(owners.gvk)
			err := EachObject(ctx, c, list, func(obj runtime.Object) error {
				m, ok := obj.(*metav1.PartialObjectMetadata)
				if !ok {
					return fmt.Errorf("unexpected %T", obj)
				}
				if owner := metav1.GetControllerOf(m); owner != nil && owner.Kind == owners.above {
					parent[m.UID] = *owner
				}
				return nil
			})
			if err != nil {
				return fmt.Errorf("listing %s: %w", strings.TrimSuffix(owners.gvk.Kind, "List")+"s", err)
			}
			return nil
		})
	}
	g.Go(func() error {
		err := EachObject(ctx, c, &corev1.PodList{}, func(obj runtime.Object) error {
			p, ok := obj.(*corev1.Pod)
			if !ok {
				return fmt.Errorf("unexpected %T", obj)
			}
			if p.DeletionTimestamp != nil || p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
				return nil
			}
			pods = append(pods, seen{namespace: p.Namespace, owner: metav1.GetControllerOf(p),
				pod: Pod{Name: p.Name, Phase: p.Status.Phase, Sidecar: mesh.SidecarOf(p), Ready: podReady(p)}})
			return nil
		})
		if err != nil {
			return fmt.Errorf("listing Pods: %w", err)
		}
		return nil
	})
	if err := g.Wait(); err != nil {
		return nil, err
	}

	type key struct {
		kind      ref.WorkloadKind
		namespace string
		name      string
	}
	byKey := map[key]*Workload{}
	for _, p := range pods {
		k := key{ref.Pod, p.namespace, p.pod.Name}
		if owner := p.owner; owner != nil {
			k = key{ref.WorkloadKind(owner.Kind), p.namespace, owner.Name}
			for _, parent := range parents {
				if up, ok := parent[owner.UID]; ok {
					k = key{ref.WorkloadKind(up.Kind), p.namespace, up.Name}
				}
			}
		}
		w := byKey[k]
		if w == nil {
			w = &Workload{Kind: k.kind, Namespace: k.namespace, Name: k.name}
			byKey[k] = w
		}
		w.Pods = append(w.Pods, p.pod)
	}
	out := make([]Workload, 0, len(byKey))
	for _, w := range byKey {
		sort.Slice(w.Pods, func(i, j int) bool { return w.Pods[i].Name < w.Pods[j].Name })
		out = append(out, *w)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Namespace != b.Namespace {
			return a.Namespace < b.Namespace
		}
		if a.Kind != b.Kind {
			return a.Kind < b.Kind
		}
		return a.Name < b.Name
	})
	return out, nil
}

// reads runs independent reads at once. Wait reports the error of the
// first read in the order they were started, whichever failed first, so
// what a failing cluster is said to refuse does not depend on timing; a
// failure does not cancel the others, which end on their own.
type reads struct {
	wg   sync.WaitGroup
	errs []*error
}

func (r *reads) Go(read func() error) {
	err := new(error)
	r.errs = append(r.errs, err)
	r.wg.Go(func() { *err = read() })
}

func (r *reads) Wait() error {
	r.wg.Wait()
	for _, err := range r.errs {
		if *err != nil {
			return *err
		}
	}
	return nil
}
