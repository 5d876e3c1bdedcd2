package apply

import (
	"context"
	"log/slog"
	"strings"
	"sync"

	"github.com/go-logr/logr"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/meshops/meshops/mesh"
	"github.com/meshops/meshops/plan"
	"github.com/meshops/meshops/ref"
	"github.com/meshops/meshops/state"
)

// sharedWatches are the restart phase's informers: one each for the
// workload kinds the phase restarts, their pods, the PodDisruptionBudgets
// and the state record, started once for the phase. A restart reads its
// workload, pods and budgets from them and is woken by their events, so it
// costs the API server its stamp and its share of the record writes, not a
// watch, a read and two lists of its own: at 200 workloads those were
// 2,000 requests, enough to hold the client at its rate limit.
//
// They watch the one namespace the restarts name, or the whole cluster
// when they name more (a watch per kind instead of one per kind and
// namespace; plan's observe lists every pod of the cluster anyway). A
// watch the server refuses (RBAC without the verb) is stopped and the
// restarts read that kind from the API server as they did before.
type sharedWatches struct {
	log *slog.Logger
	// namespace is where the watches look; "" for the whole cluster.
	namespace string
	kinds     map[ref.WorkloadKind]*informer
	pods      *informer
	pdbs      *informer
	state     *informer
	stateKey  client.ObjectKey

	mu   sync.Mutex
	subs map[*subscription]struct{}
	// written is the state ConfigMap as this run's last record write left
	// it: newer than the watch's copy until the watch brings that write.
	written *corev1.ConfigMap
}

// informer is one shared watch. refused is closed once the server
// refused it: the cache it filled is then not kept up to date.
type informer struct {
	name    string
	inf     cache.SharedIndexInformer
	refused chan struct{}
	once    sync.Once
	stop    context.CancelFunc
}

// live: the watch holds the cluster's state and follows it.
func (i *informer) live() bool {
	if i == nil {
		return false
	}
	select {
	case <-i.refused:
		return false
	default:
		return i.inf.HasSynced()
	}
}

// refuse stops the watch for good: the restarts read its kind from the
// API server from then on.
func (i *informer) refuse() {
	i.once.Do(func() { close(i.refused) })
	i.stop()
}

// subscription wakes one restart's wait when its workload, a pod its
// selector matches or a budget of its namespace changes.
type subscription struct {
	kind      ref.WorkloadKind
	namespace string
	name      string
	pods      labels.Selector
	wake      chan struct{}
}

func (s *subscription) notify() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// startWatches starts the shared watches for the workloads ids and waits
// until they hold the cluster's state; the returned function stops them.
// A client that cannot watch gets none: the restarts then poll.
func (r *run) startWatches(ctx context.Context, ids []ref.Workload) (stop func()) {
	c, ok := r.Cluster.Client.(client.WithWatch)
	if !ok || r.watches.Load() != nil {
		return func() {}
	}
	namespaces := map[string]bool{}
	kinds := map[ref.WorkloadKind]bool{}
	for _, id := range ids {
		switch id.Kind {
		case ref.Deployment, ref.StatefulSet, ref.DaemonSet:
			namespaces[id.Namespace], kinds[id.Kind] = true, true
		}
	}
	if len(kinds) == 0 {
		return func() {}
	}
	w := &sharedWatches{log: r.log, kinds: map[ref.WorkloadKind]*informer{}, subs: map[*subscription]struct{}{}}
	if len(namespaces) == 1 {
		for ns := range namespaces {
			w.namespace = ns
		}
	}
	// The informers log through meshops' logger, not klog's stderr.
	ctx = logr.NewContext(ctx, logr.FromSlogHandler(r.log.Handler()))
	var all []*informer
	for kind := range kinds {
		var obj client.Object
		var list func() client.ObjectList
		switch kind {
		case ref.Deployment:
			obj, list = &appsv1.Deployment{}, func() client.ObjectList { return &appsv1.DeploymentList{} }
		case ref.StatefulSet:
			obj, list = &appsv1.StatefulSet{}, func() client.ObjectList { return &appsv1.StatefulSetList{} }
		case ref.DaemonSet:
			obj, list = &appsv1.DaemonSet{}, func() client.ObjectList { return &appsv1.DaemonSetList{} }
		}
		w.kinds[kind] = w.add(ctx, c, string(kind)+"s", obj, list, w.namespace, "", slimWorkload, func(o metav1.Object) {
			w.wake(func(s *subscription) bool {
				return s.kind == kind && s.namespace == o.GetNamespace() && s.name == o.GetName()
			})
		})
		all = append(all, w.kinds[kind])
	}
	w.pods = w.add(ctx, c, "pods", &corev1.Pod{}, func() client.ObjectList { return &corev1.PodList{} }, w.namespace, "", slimPod, func(o metav1.Object) {
		podLabels := labels.Set(o.GetLabels())
		w.wake(func(s *subscription) bool {
			return s.namespace == o.GetNamespace() && s.pods != nil && s.pods.Matches(podLabels)
		})
	})
	w.pdbs = w.add(ctx, c, "PodDisruptionBudgets", &policyv1.PodDisruptionBudget{}, func() client.ObjectList { return &policyv1.PodDisruptionBudgetList{} }, w.namespace, "", slimMeta, func(o metav1.Object) {
		w.wake(func(s *subscription) bool { return s.namespace == o.GetNamespace() })
	})
	all = append(all, w.pods, w.pdbs)
	if sc, ok := r.Store.Client.(client.WithWatch); ok {
		w.stateKey = r.Store.Key()
		w.state = w.add(ctx, sc, "the state record", &corev1.ConfigMap{}, func() client.ObjectList { return &corev1.ConfigMapList{} },
			w.stateKey.Namespace, "metadata.name="+w.stateKey.Name, slimRecord, nil)
		all = append(all, w.state)
	}
	// A watch that cannot fill its cache within a workload's timeout (an
	// API server that keeps failing the list) is given up, so it never
	// holds the restarts longer than reading the API server would.
	wait, cancel := context.WithTimeout(ctx, r.Options.Restart.WorkloadTimeout)
	defer cancel()
	for _, i := range all {
		select {
		case <-i.inf.HasSyncedChecker().Done():
		case <-i.refused:
		case <-wait.Done():
		}
		if !i.live() {
			i.refuse()
		}
	}
	r.watches.Store(w)
	return func() {
		r.watches.Store(nil)
		for _, i := range all {
			i.refuse()
		}
		w.wake(func(*subscription) bool { return true })
	}
}

// add starts one informer of obj's kind in namespace ("" for all),
// calling changed with every object it adds, updates or deletes.
func (w *sharedWatches) add(ctx context.Context, c client.WithWatch, name string, obj client.Object, newList func() client.ObjectList,
	namespace, fieldSelector string, transform cache.TransformFunc, changed func(metav1.Object)) *informer {
	opts := func(o metav1.ListOptions) *client.ListOptions {
		if fieldSelector != "" {
			o.FieldSelector = fieldSelector
		}
		return &client.ListOptions{Namespace: namespace, Raw: &o, Limit: o.Limit, Continue: o.Continue}
	}
	lw := &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			list := newList()
			return list, c.List(ctx, list, opts(o))
		},
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			return c.Watch(ctx, newList(), opts(o))
		},
	}
	inf := cache.NewSharedIndexInformerWithOptions(lw, obj, cache.SharedIndexInformerOptions{
		Indexers:          cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc},
		ObjectDescription: name,
	})
	ictx, stop := context.WithCancel(ctx)
	i := &informer{name: name, inf: inf, stop: stop, refused: make(chan struct{})}
	_ = inf.SetTransform(transform)
	_ = inf.SetWatchErrorHandlerWithContext(func(_ context.Context, _ *cache.Reflector, err error) {
		if refused(err) {
			w.log.Info("the API server refused a watch; restarts read these from it instead", "watch", name, "error", err)
			i.refuse()
			w.wake(func(*subscription) bool { return true })
			return
		}
		w.log.Debug("watch interrupted; it resumes", "watch", name, "error", err)
	})
	if changed != nil {
		each := func(o any) {
			if d, ok := o.(cache.DeletedFinalStateUnknown); ok {
				o = d.Obj
			}
			if m, err := meta.Accessor(o); err == nil {
				changed(m)
			}
		}
		_, _ = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
			AddFunc:    func(o any) { each(o) },
			UpdateFunc: func(_, o any) { each(o) },
			DeleteFunc: func(o any) { each(o) },
		})
	}
	go inf.RunWithContext(ictx)
	return i
}

// refused: the server will not serve this watch however often it is
// asked (no RBAC verb, no such resource); anything else is a blink the
// informer rides out by watching again.
func refused(err error) bool {
	return apierrors.IsForbidden(err) || apierrors.IsUnauthorized(err) || apierrors.IsMethodNotSupported(err) || apierrors.IsNotFound(err)
}

func (w *sharedWatches) wake(match func(*subscription) bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for s := range w.subs {
		if match(s) {
			s.notify()
		}
	}
}

func (w *sharedWatches) covers(namespace string) bool {
	return w != nil && (w.namespace == "" || w.namespace == namespace)
}

// subscribe wakes the returned subscription on every change the wait for
// wl reads; nil when no shared watch covers it.
func (w *sharedWatches) subscribe(wl *workload) *subscription {
	if !w.covers(wl.id.Namespace) {
		return nil
	}
	s := &subscription{kind: wl.id.Kind, namespace: wl.id.Namespace, name: wl.id.Name, wake: make(chan struct{}, 1)}
	if sel, err := metav1.LabelSelectorAsSelector(wl.selector()); err == nil && !sel.Empty() {
		s.pods = sel
	}
	w.mu.Lock()
	w.subs[s] = struct{}{}
	w.mu.Unlock()
	return s
}

func (w *sharedWatches) unsubscribe(s *subscription) {
	if w == nil || s == nil {
		return
	}
	w.mu.Lock()
	delete(w.subs, s)
	w.mu.Unlock()
}

// workloadInformer is the live watch of id's kind covering its namespace,
// nil when there is none.
func (w *sharedWatches) workloadInformer(id ref.Workload) *informer {
	if !w.covers(id.Namespace) {
		return nil
	}
	if i := w.kinds[id.Kind]; i.live() {
		return i
	}
	return nil
}

// cached returns a copy of id's object from the watch; ok is false when
// no live watch answers for it (then read the API server). A workload the
// watch does not hold is gone: NotFound, as a read would say.
func (w *sharedWatches) cached(id ref.Workload) (obj runtime.Object, ok bool, err error) {
	i := w.workloadInformer(id)
	if i == nil {
		return nil, false, nil
	}
	o, exists, err := i.inf.GetStore().GetByKey(id.Namespace + "/" + id.Name)
	if err != nil {
		return nil, false, nil
	}
	if !exists {
		return nil, true, apierrors.NewNotFound(appsv1.Resource(strings.ToLower(string(id.Kind))+"s"), id.Name)
	}
	return o.(runtime.Object).DeepCopyObject(), true, nil
}

// inNamespace lists the objects of type T that the watch i holds in
// namespace; ok is false when it is not live or does not cover namespace.
func inNamespace[T runtime.Object](w *sharedWatches, i *informer, namespace string) ([]T, bool) {
	if !w.covers(namespace) || !i.live() {
		return nil, false
	}
	objs, err := i.inf.GetIndexer().ByIndex(cache.NamespaceIndex, namespace)
	if err != nil {
		return nil, false
	}
	out := make([]T, 0, len(objs))
	for _, o := range objs {
		if t, ok := o.(T); ok {
			out = append(out, t)
		}
	}
	return out, true
}

// suspended reads the record's suspend flag from its watch; ok is false
// when there is none.
func (w *sharedWatches) suspended() (on, ok bool) {
	if w == nil || !w.state.live() {
		return false, false
	}
	o, exists, err := w.state.inf.GetStore().GetByKey(w.stateKey.Namespace + "/" + w.stateKey.Name)
	if err != nil {
		return false, false
	}
	if !exists {
		return false, true
	}
	rec, err := state.Decode(o.(*corev1.ConfigMap))
	if err != nil {
		return false, false
	}
	return rec.Suspended, true
}

// slimWorkload keeps of a workload what a restart reads: its metadata
// without managed fields and annotations, and its spec without the pod
// template's spec (the template's labels and annotations stay).
func slimWorkload(obj any) (any, error) {
	switch o := obj.(type) {
	case *appsv1.Deployment:
		slimObjectMeta(&o.ObjectMeta)
		o.Spec.Template.Spec = corev1.PodSpec{}
	case *appsv1.StatefulSet:
		slimObjectMeta(&o.ObjectMeta)
		o.Spec.Template.Spec, o.Spec.VolumeClaimTemplates = corev1.PodSpec{}, nil
	case *appsv1.DaemonSet:
		slimObjectMeta(&o.ObjectMeta)
		o.Spec.Template.Spec = corev1.PodSpec{}
	}
	return obj, nil
}

func slimObjectMeta(m *metav1.ObjectMeta) {
	m.ManagedFields, m.Annotations = nil, nil
}

func slimMeta(obj any) (any, error) {
	if m, err := meta.Accessor(obj); err == nil {
		m.SetManagedFields(nil)
	}
	return obj, nil
}

// slimRecord keeps of the state ConfigMap the record, without the
// inventory: the watch is there for the suspend flag.
func slimRecord(obj any) (any, error) {
	if cm, ok := obj.(*corev1.ConfigMap); ok {
		cm.ManagedFields, cm.BinaryData = nil, nil
	}
	return obj, nil
}

// slimPod keeps of a pod what the restart waits read: labels, owners,
// deletion, phase, readiness, and what mesh.SidecarOf reads (its
// injection annotations and label, host networking, the istio-proxy
// container's name, image and restart policy). A pod as the API server
// sends it is ten to a hundred times that.
func slimPod(obj any) (any, error) {
	p, ok := obj.(*corev1.Pod)
	if !ok {
		return obj, nil
	}
	slim := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name: p.Name, Namespace: p.Namespace, UID: p.UID, ResourceVersion: p.ResourceVersion,
			Labels: p.Labels, OwnerReferences: p.OwnerReferences, DeletionTimestamp: p.DeletionTimestamp,
		},
		Spec:   corev1.PodSpec{HostNetwork: p.Spec.HostNetwork},
		Status: corev1.PodStatus{Phase: p.Status.Phase},
	}
	for _, k := range []string{mesh.SidecarStatusAnnotation, mesh.InjectLabel, mesh.RevisionLabel} {
		if v, ok := p.Annotations[k]; ok {
			if slim.Annotations == nil {
				slim.Annotations = map[string]string{}
			}
			slim.Annotations[k] = v
		}
	}
	proxy := func(cs []corev1.Container) []corev1.Container {
		var out []corev1.Container
		for _, c := range cs {
			if c.Name == mesh.ProxyContainer {
				out = append(out, corev1.Container{Name: c.Name, Image: c.Image, RestartPolicy: c.RestartPolicy})
			}
		}
		return out
	}
	slim.Spec.InitContainers, slim.Spec.Containers = proxy(p.Spec.InitContainers), proxy(p.Spec.Containers)
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			slim.Status.Conditions = []corev1.PodCondition{{Type: c.Type, Status: c.Status}}
		}
	}
	return slim, nil
}

// live reports whether every watch a wait for id reads is live: then the
// wait needs no poll.
func (w *sharedWatches) live(id ref.Workload) bool {
	return w.workloadInformer(id) != nil && w.pods.live() && w.pdbs.live()
}

// pdbsIn lists the watched PodDisruptionBudgets of namespace; ok is false
// when no live watch holds them.
func (w *sharedWatches) pdbsIn(namespace string) ([]*policyv1.PodDisruptionBudget, bool) {
	if w == nil {
		return nil, false
	}
	return inNamespace[*policyv1.PodDisruptionBudget](w, w.pdbs, namespace)
}

// podsIn lists the watched pods of namespace (slimmed, read-only); ok is
// false when no live watch holds them.
func (w *sharedWatches) podsIn(namespace string) ([]*corev1.Pod, bool) {
	if w == nil {
		return nil, false
	}
	return inNamespace[*corev1.Pod](w, w.pods, namespace)
}

// restartTargets are the workloads of the restart phase that starts at
// step first.
func (r *run) restartTargets(first int) []ref.Workload {
	var ids []ref.Workload
	for i := first; i < len(r.p.Steps) && r.p.Steps[i].Phase == plan.PhaseRestarts; i++ {
		if w := r.p.Steps[i].Target.Workload; w != nil {
			ids = append(ids, *w)
		}
	}
	return ids
}

// record is the newest copy of the state ConfigMap the run has, the
// watch's or the one its last record write returned, for a record write
// of one request (state.Store.UpdateFrom); nil when there is none.
func (w *sharedWatches) record() *corev1.ConfigMap {
	if w == nil || !w.state.live() {
		return nil
	}
	w.mu.Lock()
	written := w.written
	w.mu.Unlock()
	o, exists, err := w.state.inf.GetStore().GetByKey(w.stateKey.Namespace + "/" + w.stateKey.Name)
	if err != nil || !exists {
		return written
	}
	cached := o.(*corev1.ConfigMap)
	if written != nil {
		if cmp, err := compareVersions(cached, written.ResourceVersion); err != nil || cmp < 0 {
			return written
		}
	}
	return cached
}

// wrote keeps the ConfigMap a record write returned.
func (w *sharedWatches) wrote(cm *corev1.ConfigMap) {
	if w == nil {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.written = cm
}
