package bench

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"
	watchtools "k8s.io/client-go/tools/watch"
	"k8s.io/utils/ptr"

	"github.com/meshops/meshops/rollout"
)

// readyFloor is how many ready pods a Deployment keeps during a rolling
// update: replicas minus maxUnavailable (a percentage rounds down, as the
// Deployment controller rounds it). With 1 replica and the default 25%,
// the floor is 1: the new pod must be ready before the old one goes.
func readyFloor(d *appsv1.Deployment) int {
	replicas := int(ptr.Deref(d.Spec.Replicas, 1))
	unavailable := intstr.FromString("25%")
	if ru := d.Spec.Strategy.RollingUpdate; ru != nil && ru.MaxUnavailable != nil {
		unavailable = *ru.MaxUnavailable
	}
	if d.Spec.Strategy.Type == appsv1.RecreateDeploymentStrategyType {
		return 0
	}
	n, err := intstr.GetScaledValueFromIntOrPercent(&unavailable, replicas, false)
	if err != nil {
		return replicas
	}
	return max(replicas-n, 0)
}

// countsTowardFloor: a pod serves when it is ready and not being deleted.
func countsTowardFloor(p *corev1.Pod) bool {
	if p.DeletionTimestamp != nil || p.Status.Phase != corev1.PodRunning {
		return false
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// observer watches one upgrade's Deployments and pods from outside the
// tool under test: when each restart's patch landed and when its rollout
// completed (a Deployment watch), and every moment a workload had fewer
// serving pods than its floor (a pod watch, whose events arrive in the
// order the API server wrote them).
type observer struct {
	mu          sync.Mutex
	deployments map[string]*rolloutTimes
	floors      map[string]int
	desired     map[string]int
	serving     map[string]map[string]bool
	violations  int
	violating   map[string]bool
	// unavailable is Σ max(desired − serving, 0) over the Deployments
	// now; peakUnavailable its highest since the watch started.
	unavailable, peakUnavailable int

	cancel context.CancelFunc
	wg     sync.WaitGroup
	once   sync.Once
}

type rolloutTimes struct {
	generation      int64
	patched, rolled time.Time
}

// observe starts watching the Deployments in namespaces and the pods
// labelled podSelector, from their state now.
func observe(ctx context.Context, namespaces []string, podSelector string) (*observer, error) {
	o := &observer{
		deployments: map[string]*rolloutTimes{}, floors: map[string]int{}, desired: map[string]int{},
		serving: map[string]map[string]bool{}, violating: map[string]bool{},
	}
	ctx, o.cancel = context.WithCancel(ctx)
	apps := env.Clientset.AppsV1().Deployments("")
	deploys, err := apps.List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	for i := range deploys.Items {
		d := &deploys.Items[i]
		if !slices.Contains(namespaces, d.Namespace) {
			continue
		}
		key := d.Namespace + "/" + d.Name
		o.deployments[key] = &rolloutTimes{generation: d.Generation}
		o.floors[key] = readyFloor(d)
		o.desired[key] = int(ptr.Deref(d.Spec.Replicas, 1))
		o.unavailable += o.desired[key]
		o.serving[key] = map[string]bool{}
	}
	core := env.Clientset.CoreV1().Pods("")
	pods, err := core.List(ctx, metav1.ListOptions{LabelSelector: podSelector})
	if err != nil {
		return nil, err
	}
	for i := range pods.Items {
		o.pod(watch.Added, &pods.Items[i])
	}
	o.violations, o.violating = 0, map[string]bool{}
	o.peakUnavailable = o.unavailable

	deployWatch := &cache.ListWatch{WatchFuncWithContext: func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
		return apps.Watch(ctx, opts)
	}}
	podWatch := &cache.ListWatch{WatchFuncWithContext: func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
		opts.LabelSelector = podSelector
		return core.Watch(ctx, opts)
	}}
	if err := o.follow(ctx, deploys.ResourceVersion, deployWatch, func(t watch.EventType, obj runtime.Object) {
		if d, ok := obj.(*appsv1.Deployment); ok {
			o.deployment(d)
		}
	}); err != nil {
		o.stop()
		return nil, err
	}
	if err := o.follow(ctx, pods.ResourceVersion, podWatch, func(t watch.EventType, obj runtime.Object) {
		if p, ok := obj.(*corev1.Pod); ok {
			o.pod(t, p)
		}
	}); err != nil {
		o.stop()
		return nil, err
	}
	return o, nil
}

// follow handles every event of w from resourceVersion on, re-establishing
// the watch if the server closes it, until ctx ends.
func (o *observer) follow(ctx context.Context, resourceVersion string, w cache.WatcherWithContext, handle func(watch.EventType, runtime.Object)) error {
	rw, err := watchtools.NewRetryWatcherWithContext(ctx, resourceVersion, w)
	if err != nil {
		return err
	}
	o.wg.Go(func() {
		defer rw.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case ev, ok := <-rw.ResultChan():
				if !ok {
					return
				}
				handle(ev.Type, ev.Object)
			}
		}
	})
	return nil
}

func (o *observer) deployment(d *appsv1.Deployment) {
	now := time.Now()
	o.mu.Lock()
	defer o.mu.Unlock()
	t := o.deployments[d.Namespace+"/"+d.Name]
	if t == nil {
		return
	}
	if t.patched.IsZero() && d.Generation > t.generation {
		t.patched = now
	}
	if !t.patched.IsZero() && t.rolled.IsZero() && rollout.Deployment(d).Done {
		t.rolled = now
	}
}

func (o *observer) pod(t watch.EventType, p *corev1.Pod) {
	o.mu.Lock()
	defer o.mu.Unlock()
	key := p.Namespace + "/" + p.Labels["app"]
	serving := o.serving[key]
	if serving == nil {
		return
	}
	before := max(o.desired[key]-len(serving), 0)
	if t != watch.Deleted && countsTowardFloor(p) {
		serving[p.Name] = true
	} else {
		delete(serving, p.Name)
	}
	o.unavailable += max(o.desired[key]-len(serving), 0) - before
	o.peakUnavailable = max(o.peakUnavailable, o.unavailable)
	if len(serving) < o.floors[key] {
		o.violations++
		o.violating[key] = true
	}
}

// waitRolled waits until the watch has seen every Deployment restarted
// and rolled out, for at most timeout: a tool may return before the
// rollouts it started are complete, and the sums need them all.
func (o *observer) waitRolled(timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		o.mu.Lock()
		left := 0
		for _, t := range o.deployments {
			if t.rolled.IsZero() {
				left++
			}
		}
		o.mu.Unlock()
		if left == 0 {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (o *observer) stop() {
	o.once.Do(func() {
		o.cancel()
		o.wg.Wait()
	})
}

// timeline is what the observer saw of one upgrade from start to end.
type timeline struct {
	// Rolling is Σ(rollout complete − restart patch) over the Deployments:
	// the time the cluster spent rolling them.
	Rolling time.Duration
	// Lead is start → the first patch (load, plan, gate, tag flip); Tail
	// the last rollout's completion → end (verify, records).
	Lead, Tail time.Duration
	// MeanGap is the mean time a slot stays empty: from a rollout's
	// completion to the restart that takes its place (the k-th completion
	// frees the slot of the (batch+k)-th restart). At batch size 1, what
	// the tool adds per workload.
	MeanGap time.Duration
	// Busy is the share of the batch slots' time spent rolling:
	// Σ rolling / (wall × batch).
	Busy float64
	// Violations counts the moments a workload had fewer serving pods than
	// its floor, in Violating.
	Violations int
	Violating  []string
	// PeakRollouts is the most Deployments rolling at once: between their
	// restart patch landing and their rollout completing.
	PeakRollouts int
	// PeakUnavailable is the most pods missing at once across the fleet:
	// Σ over the Deployments of replicas − serving pods, never below 0.
	PeakUnavailable int
	// LastRolled is start → the last rollout's completion, and
	// RolledAfterEnd how many rollouts completed after the tool returned.
	LastRolled     time.Duration
	RolledAfterEnd int
}

// stopAndSum stops watching and sums up an upgrade that ran from start to
// end, batch restarts at a time (0: no fixed batch, no slot figures). It fails if a Deployment was never
// restarted or never completed its rollout: the sums would then be wrong.
func (o *observer) stopAndSum(start, end time.Time, batch int) (timeline, error) {
	o.stop()
	o.mu.Lock()
	defer o.mu.Unlock()
	var tl timeline
	var missing []string
	var times []*rolloutTimes
	for key, t := range o.deployments {
		if t.patched.IsZero() || t.rolled.IsZero() {
			missing = append(missing, key)
			continue
		}
		tl.Rolling += t.rolled.Sub(t.patched)
		times = append(times, t)
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		return tl, fmt.Errorf("%d Deployments were not seen restarted and rolled out: %v", len(missing), missing)
	}
	if len(times) > 0 {
		patched := make([]time.Time, len(times))
		rolled := make([]time.Time, len(times))
		for i, t := range times {
			patched[i], rolled[i] = t.patched, t.rolled
		}
		slices.SortFunc(patched, time.Time.Compare)
		slices.SortFunc(rolled, time.Time.Compare)
		tl.Lead, tl.Tail = patched[0].Sub(start), end.Sub(rolled[len(rolled)-1])
		tl.LastRolled = rolled[len(rolled)-1].Sub(start)
		for _, r := range rolled {
			if r.After(end) {
				tl.RolledAfterEnd++
			}
		}
		intervals := make([][2]time.Time, len(times))
		for i, t := range times {
			intervals[i] = [2]time.Time{t.patched, t.rolled}
		}
		tl.PeakRollouts = peakOverlap(intervals)
		var gaps time.Duration
		n := 0
		for k := 0; batch > 0 && k+batch < len(patched); k++ {
			gaps += patched[k+batch].Sub(rolled[k])
			n++
		}
		if n > 0 {
			tl.MeanGap = gaps / time.Duration(n)
		}
		if batch > 0 {
			tl.Busy = float64(tl.Rolling) / float64(end.Sub(start)) / float64(batch)
		}
	}
	tl.PeakUnavailable = o.peakUnavailable
	tl.Violations = o.violations
	for key := range o.violating {
		tl.Violating = append(tl.Violating, key)
	}
	slices.Sort(tl.Violating)
	return tl, nil
}

// peakOverlap is the most intervals [from, to) that hold at one instant;
// one that ends as another starts does not overlap it.
func peakOverlap(intervals [][2]time.Time) int {
	type edge struct {
		at    time.Time
		delta int
	}
	edges := make([]edge, 0, 2*len(intervals))
	for _, iv := range intervals {
		edges = append(edges, edge{iv[0], 1}, edge{iv[1], -1})
	}
	// At one instant ends come first.
	slices.SortFunc(edges, func(a, b edge) int {
		if c := a.at.Compare(b.at); c != 0 {
			return c
		}
		return a.delta - b.delta
	})
	now, peak := 0, 0
	for _, e := range edges {
		now += e.delta
		peak = max(peak, now)
	}
	return peak
}

func TestPeakOverlapCountsIntervalsOpenAtOnce(t *testing.T) {
	at := func(s int) time.Time { return time.Unix(int64(s), 0) }
	iv := func(from, to int) [2]time.Time { return [2]time.Time{at(from), at(to)} }
	for _, tc := range []struct {
		name      string
		intervals [][2]time.Time
		want      int
	}{
		{"none", nil, 0},
		{"one after another", [][2]time.Time{iv(0, 2), iv(2, 4), iv(4, 6)}, 1},
		{"all at once", [][2]time.Time{iv(0, 5), iv(1, 5), iv(2, 6)}, 3},
		{"two waves", [][2]time.Time{iv(0, 3), iv(1, 3), iv(3, 6), iv(4, 7), iv(5, 8)}, 3},
	} {
		if got := peakOverlap(tc.intervals); got != tc.want {
			t.Errorf("%s: peak %d, want %d", tc.name, got, tc.want)
		}
	}
}

func TestPodEventsTrackUnavailablePodsAcrossTheFleet(t *testing.T) {
	o := &observer{
		deployments: map[string]*rolloutTimes{"ns/a": {}, "ns/b": {}},
		floors:      map[string]int{"ns/a": 1, "ns/b": 1}, desired: map[string]int{"ns/a": 1, "ns/b": 1},
		serving: map[string]map[string]bool{"ns/a": {}, "ns/b": {}}, violating: map[string]bool{},
		unavailable: 2,
	}
	pod := func(app, name string, ready bool) *corev1.Pod {
		status := corev1.ConditionFalse
		if ready {
			status = corev1.ConditionTrue
		}
		return &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name, Labels: map[string]string{"app": app}},
			Status:     corev1.PodStatus{Phase: corev1.PodRunning, Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: status}}},
		}
	}
	// Both serve; a's new pod starts and becomes ready; then the old goes.
	o.pod(watch.Added, pod("a", "a-1", true))
	o.pod(watch.Added, pod("b", "b-1", true))
	o.peakUnavailable = o.unavailable
	o.pod(watch.Added, pod("a", "a-2", false))
	o.pod(watch.Modified, pod("a", "a-2", true))
	o.pod(watch.Deleted, pod("a", "a-1", true))
	if o.unavailable != 0 || o.peakUnavailable != 0 {
		t.Fatalf("surge rollout: %d unavailable, peak %d; want 0, 0", o.unavailable, o.peakUnavailable)
	}
	// Both lose their serving pod at once.
	o.pod(watch.Modified, pod("a", "a-2", false))
	o.pod(watch.Deleted, pod("b", "b-1", true))
	o.pod(watch.Added, pod("b", "b-2", true))
	if o.unavailable != 1 || o.peakUnavailable != 2 {
		t.Errorf("after both dropped and b recovered: %d unavailable, peak %d; want 1, 2", o.unavailable, o.peakUnavailable)
	}
	if o.violations != 2 {
		t.Errorf("%d moments below the floor, want 2 (a, then b)", o.violations)
	}
}

func TestReadyFloorIsReplicasLessMaxUnavailableRoundedDown(t *testing.T) {
	deployment := func(replicas int32, strategy appsv1.DeploymentStrategy) *appsv1.Deployment {
		return &appsv1.Deployment{Spec: appsv1.DeploymentSpec{Replicas: ptr.To(replicas), Strategy: strategy}}
	}
	rolling := func(v intstr.IntOrString) appsv1.DeploymentStrategy {
		return appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType, RollingUpdate: &appsv1.RollingUpdateDeployment{MaxUnavailable: &v}}
	}
	for _, tc := range []struct {
		name string
		d    *appsv1.Deployment
		want int
	}{
		{"one replica, default 25%", deployment(1, appsv1.DeploymentStrategy{}), 1},
		{"four replicas, default 25%", deployment(4, appsv1.DeploymentStrategy{}), 3},
		{"ten replicas, 25% rounds down", deployment(10, rolling(intstr.FromString("25%"))), 8},
		{"absolute maxUnavailable", deployment(3, rolling(intstr.FromInt32(2))), 1},
		{"maxUnavailable above replicas", deployment(1, rolling(intstr.FromInt32(3))), 0},
		{"Recreate keeps nothing", deployment(2, appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType}), 0},
	} {
		if got := readyFloor(tc.d); got != tc.want {
			t.Errorf("%s: floor %d, want %d", tc.name, got, tc.want)
		}
	}
}
