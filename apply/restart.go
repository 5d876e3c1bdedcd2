package apply

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/resourceversion"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/meshops/meshops/mesh"
	"github.com/meshops/meshops/observe"
	"github.com/meshops/meshops/plan"
	"github.com/meshops/meshops/ref"
	"github.com/meshops/meshops/retry"
	"github.com/meshops/meshops/rollout"
	"github.com/meshops/meshops/state"
)

const (
	// RestartedAtAnnotation is what `kubectl rollout restart` sets; the
	// template change makes the controller replace every pod.
	RestartedAtAnnotation = "kubectl.kubernetes.io/restartedAt"
	// RestartedForAnnotation records on the pod template what a meshops
	// restart moves the workload to ("asm-1-29", or "asm-1-29@1.29.3" for a
	// proxy patch). A re-run that finds it waits for that rollout instead of
	// restarting the workload a second time.
	RestartedForAnnotation = "meshops.io/restarted-for"
)

// workload is one restartable controller.
type workload struct {
	id       ref.Workload
	obj      client.Object
	template *corev1.PodTemplateSpec
	selector func() *metav1.LabelSelector
	status   func() rollout.Status
	// desired is how many pods the workload runs once rolled out.
	desired func() int32
	// set takes the workload's state from a copy of the shared watch's, so
	// the wait does not read it from the API server; false when the copy
	// holds another type.
	set func(runtime.Object) bool
}

// getWorkload reads the workload: from the shared watch when one holds it
// (no request), else from the API server.
func (r *run) getWorkload(ctx context.Context, id ref.Workload) (*workload, error) {
	w := &workload{id: id}
	switch id.Kind {
	case ref.Deployment:
		d := &appsv1.Deployment{}
		w.obj, w.template, w.set = d, &d.Spec.Template, setFrom(d)
		w.selector = func() *metav1.LabelSelector { return d.Spec.Selector }
		w.status = func() rollout.Status { return rollout.Deployment(d) }
		w.desired = func() int32 { return ptr.Deref(d.Spec.Replicas, 1) }
	case ref.StatefulSet:
		s := &appsv1.StatefulSet{}
		w.obj, w.template, w.set = s, &s.Spec.Template, setFrom(s)
		w.selector = func() *metav1.LabelSelector { return s.Spec.Selector }
		w.status = func() rollout.Status { return rollout.StatefulSet(s) }
		w.desired = func() int32 { return ptr.Deref(s.Spec.Replicas, 1) }
	case ref.DaemonSet:
		d := &appsv1.DaemonSet{}
		w.obj, w.template, w.set = d, &d.Spec.Template, setFrom(d)
		w.selector = func() *metav1.LabelSelector { return d.Spec.Selector }
		w.status = func() rollout.Status { return rollout.DaemonSet(d) }
		w.desired = func() int32 { return d.Status.DesiredNumberScheduled }
	default:
		return nil, fmt.Errorf("%s: a %s cannot be restarted", id, id.Kind)
	}
	if err := r.read(ctx, w); err != nil {
		return nil, err
	}
	return w, nil
}

// setFrom returns a workload's set: it copies an object of the same type
// into dst.
func setFrom[T any](dst *T) func(runtime.Object) bool {
	return func(o runtime.Object) bool {
		n, ok := any(o).(*T)
		if ok && n != nil {
			*dst = *n
		}
		return ok && n != nil
	}
}

// read brings w up to date: from the shared watch when one holds it, else
// from the API server. The watch's copy is taken only when it is at least
// as new as w: right after the stamp, w is the patch's answer and the
// watch may not have seen the patch yet.
func (r *run) read(ctx context.Context, w *workload) error {
	obj, ok, err := r.watches.Load().cached(w.id)
	if !ok {
		if err := w.refresh(ctx, r.Cluster.Client); err != nil {
			return fmt.Errorf("reading %s: %w", w.id, err)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading %s: %w", w.id, err)
	}
	if cmp, cerr := compareVersions(obj, w.obj.GetResourceVersion()); w.obj.GetResourceVersion() == "" || cerr != nil || cmp >= 0 {
		w.set(obj)
	}
	return nil
}

// compareVersions compares obj's resourceVersion with rv, both of the same
// resource (where the API server's versions are ordered).
func compareVersions(obj runtime.Object, rv string) (int, error) {
	m, err := meta.Accessor(obj)
	if err != nil {
		return 0, err
	}
	return resourceversion.CompareResourceVersion(m.GetResourceVersion(), rv)
}

// reread takes w again after its stamp conflicted: the shared watch's
// copy once it is newer than the one the stamp was decided on (the
// conflict says one exists), or, without a watch, a read.
func (r *run) reread(ctx context.Context, w *workload) error {
	ws := r.watches.Load()
	if ws.workloadInformer(w.id) != nil {
		sub := ws.subscribe(w)
		defer ws.unsubscribe(sub)
		rv := w.obj.GetResourceVersion()
		for {
			obj, ok, err := ws.cached(w.id)
			if !ok {
				break
			}
			if err != nil {
				return fmt.Errorf("reading %s: %w", w.id, err)
			}
			cmp, cerr := compareVersions(obj, rv)
			if cerr != nil {
				break
			}
			if cmp > 0 {
				w.set(obj)
				return nil
			}
			if err := r.next(ctx, sub, true); err != nil {
				return fmt.Errorf("reading %s: %w", w.id, err)
			}
		}
	}
	if err := w.refresh(ctx, r.Cluster.Client); err != nil {
		return fmt.Errorf("reading %s: %w", w.id, err)
	}
	return nil
}

func (w *workload) refresh(ctx context.Context, c client.Client) error {
	return c.Get(ctx, client.ObjectKey{Namespace: w.id.Namespace, Name: w.id.Name}, w.obj)
}

// podsOut is what the restart s takes from the budget: what its workload's
// strategy lets its rollout take out of service at once, from the shared
// watch; without one, all its pods as planned.
func (r *run) podsOut(s plan.Step) int {
	if s.Op == plan.OpRestart && s.Target.Workload != nil {
		if obj, ok, err := r.watches.Load().cached(*s.Target.Workload); ok && err == nil {
			if n, ok := podsOut(obj); ok {
				return n
			}
		}
	}
	return stepPods(s.Pods)
}

// restarts runs the restart steps in the plan's order, as many at once as
// the disruption budget and the window allow (budget.go): the next step
// starts once the workloads in flight leave room for it, else it waits for
// a rollout to end. The window starts at restart.initialBatch and widens
// while rollouts succeed. The first failure stops new restarts; those
// under way are left to finish their rollout in the cluster and counted as
// moved for a rollback.
func (r *run) restarts(ctx context.Context, first int) error {
	if !r.gated {
		return fmt.Errorf("refusing to restart workloads: the gate has not passed in this run")
	}
	if err := r.progress(ctx, first, "restarts"); err != nil {
		return err
	}
	stopWatches := r.startWatches(ctx, r.restartTargets(first))
	defer stopWatches()
	ctx, cancelTimeout := context.WithTimeout(ctx, r.Options.Restart.Timeout)
	defer cancelTimeout()
	ctx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	// The target is watched throughout: once it turns unhealthy no new
	// restart starts and those under way stop, so the rollback begins
	// within a check interval, not after a workload's timeout.
	go r.watchTarget(ctx, stop)
	var (
		mu   sync.Mutex
		errs []error
	)
	failed := func() bool { mu.Lock(); defer mu.Unlock(); return len(errs) > 0 }
	var suspended *SuspendedError
	started, total := 0, 0
	for i := first; i < len(r.p.Steps) && r.p.Steps[i].Phase == plan.PhaseRestarts; i++ {
		total++
	}
	// Only this loop reads and changes the budget's state; each worker
	// reports its end on ended, which holds them all, so no worker waits.
	type end struct {
		pods    int
		outcome outcome
	}
	ended := make(chan end, total)
	b := newBudget(r.Options.Restart, r.p.MeshPods)
	window := startWindow(r.Options.Restart)
	var in inFlight
	settle := func(e end) {
		in.Workloads, in.Pods = in.Workloads-1, in.Pods-e.pods
		if w := nextWindow(window, e.outcome, b.Workloads); w != window {
			window = w
			r.log.Debug("restart window", "workloads", window)
		}
	}
	r.log.Info("restarting workloads", "workloads", total, "maxUnavailablePods", b.Pods, "maxWorkloads", b.Workloads, "initialWindow", window)
	for i := first; i < len(r.p.Steps) && r.p.Steps[i].Phase == plan.PhaseRestarts; i++ {
		s := r.p.Steps[i]
		pods := r.podsOut(s)
		// Rollouts that ended already move the window first: a failure
		// narrows it before the next start, not after.
		for drained := false; !drained; {
			select {
			case e := <-ended:
				settle(e)
			default:
				drained = true
			}
		}
		for ctx.Err() == nil && !failed() && !b.admit(in, window, pods) {
			select {
			case e := <-ended:
				settle(e)
			case <-ctx.Done():
			}
		}
		if ctx.Err() != nil || failed() {
			break
		}
		// Suspend means stop: no new restart once a person suspended the
		// cluster; those under way finish their rollout.
		if on, err := r.suspendedNow(ctx); err == nil && on {
			suspended = &SuspendedError{Started: started, Total: total}
			break
		}
		started++
		in.Workloads, in.Pods = in.Workloads+1, in.Pods+pods
		r.report(Event{Index: i, Step: s, Status: StepStarted})
		go func() {
			start := time.Now()
			msg, err := r.restart(ctx, i, s, false)
			ev := Event{Index: i, Step: s, Status: StepDone, Elapsed: time.Since(start), Message: msg}
			o := rolledOut
			switch {
			case err != nil && s.UnhealthyBefore && ctx.Err() == nil:
				// Broken before the upgrade: no evidence against the target.
				// Reported at the end; the rollout goes on, more carefully.
				ev.Status, ev.Message = StepFailed, "still not healthy, as before the upgrade (not held against "+s.Revision+"): "+err.Error()
				mu.Lock()
				r.unhealthyFailed = append(r.unhealthyFailed, *s.Target.Workload)
				mu.Unlock()
				o = failedTolerated
			case err != nil:
				ev.Status, ev.Message = StepFailed, err.Error()
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
				stop(&restartFailedError{Workload: s.Target.String()})
				o = failedStops
			}
			r.report(ev)
			ended <- end{pods: pods, outcome: o}
		}()
	}
	for in.Workloads > 0 {
		settle(<-ended)
	}
	var unhealthy *TargetUnhealthyError
	if cause := context.Cause(ctx); errors.As(cause, &unhealthy) {
		return fmt.Errorf("restarts stopped: %w", cause)
	}
	if len(errs) > 0 {
		// A failed restart wins over a suspend: it is rolled back.
		return fmt.Errorf("restarts stopped: %w", errors.Join(errs...))
	}
	if suspended != nil {
		return suspended
	}
	if ctx.Err() != nil {
		return fmt.Errorf("restarts did not finish within %s", r.Options.Restart.Timeout)
	}
	return nil
}

// UnhealthyBeforeError says which workloads, not healthy before the
// upgrade, did not come up on the target either. The rest of the rollout
// went on; nothing was rolled back and the target is not held bad.
type UnhealthyBeforeError struct {
	Target    string
	Workloads []ref.Workload
}

func (e *UnhealthyBeforeError) Error() string {
	names := make([]string, len(e.Workloads))
	for i, w := range e.Workloads {
		names[i] = w.String()
	}
	return fmt.Sprintf("workloads that were not healthy before the upgrade are not healthy on %s either: %s; fix them (the rollout of the others completed and is not rolled back)",
		e.Target, strings.Join(names, ", "))
}

// TargetUnhealthyError stops the restarts: the revision they move
// workloads to stopped being healthy (or stopped injecting itself) while
// they ran.
type TargetUnhealthyError struct {
	Revision, Why string
}

func (e *TargetUnhealthyError) Error() string {
	return fmt.Sprintf("target revision %s became unhealthy during the restarts: %s", e.Revision, e.Why)
}

// watchTarget checks the target's health every TargetCheckInterval and its
// injection, by the probe, every ProbeInterval, until ctx ends; the first
// failure stops the restarts with a TargetUnhealthyError. A read that
// fails is not evidence against the revision: it is tried again.
func (r *run) watchTarget(ctx context.Context, stop context.CancelCauseFunc) {
	lastProbe := time.Now()
	for {
		if err := sleep(ctx, r.Options.TargetCheckInterval); err != nil {
			return
		}
		ok, why, err := r.health(ctx, r.p.Target)
		if err == nil && ok && time.Since(lastProbe) >= r.Options.ProbeInterval {
			lastProbe = time.Now()
			probe, perr := observe.ProbeRevision(ctx, r.Cluster.Client, r.Options.ProbeNamespace, r.p.Target)
			switch {
			case retry.WebhookFailed(perr):
				// The target's own injector cannot be called: evidence.
				ok, why = false, perr.Error()
			case perr == nil && probe.Revision != r.p.Target:
				ok, why = false, fmt.Sprintf("a pod opting into %s is injected by %q", r.p.Target, probe.Revision)
			}
		}
		if err == nil && !ok {
			r.log.Warn("target unhealthy: stopping the restarts", "revision", r.p.Target, "why", why)
			stop(&TargetUnhealthyError{Revision: r.p.Target, Why: why})
			return
		}
	}
}

// SuspendedError stops a rollout cleanly when the cluster is suspended
// during its restarts: every workload started was waited for, none is left
// half-way, and the tag stays on the healthy target it was moved to. A
// resumed run continues where this one stopped; nothing is rolled back.
type SuspendedError struct {
	Started, Total int
}

func (e *SuspendedError) Error() string {
	return fmt.Sprintf("suspended during the rollout: %d of %d restarts started and finished, the rest wait for meshops resume", e.Started, e.Total)
}

// suspendedNow reads the record's suspend flag before each restart, so a
// suspend stops the rollout within one workload: from the record's shared
// watch, or as the last record write found it; a read of its own only
// when neither is there.
func (r *run) suspendedNow(ctx context.Context) (bool, error) {
	if r.suspendSeen.Load() {
		return true, nil
	}
	if on, ok := r.watches.Load().suspended(); ok {
		return on, nil
	}
	rec, err := r.Store.Load(ctx)
	if err != nil {
		return false, err
	}
	return rec.Suspended, nil
}

// restart moves one workload to s.Revision: wait until it is fully
// available and its PodDisruptionBudget allows a disruption, stamp the pod
// template, record it as moved, then wait for the rollout and for every pod
// to run the revision. A rollback does not wait for the workload to be
// healthy first: the failed rollout is usually why it is not. index is
// s's place in the plan, which its waiting events carry; a rollback's
// restarts have none and pass -1, as the rollback's other events do.
func (r *run) restart(ctx context.Context, index int, s plan.Step, rollback bool) (string, error) {
	if s.Op == plan.OpDeletePod {
		return r.deleteBarePod(ctx, s)
	}
	if s.Target.Workload == nil {
		return "", fmt.Errorf("restart step %s names no workload", s.Target)
	}
	id := *s.Target.Workload
	want := s.Revision
	if want == "" {
		want = r.p.Target
	}
	restartedFor := want
	if s.Proxy != "" {
		restartedFor += "@" + s.Proxy
	}
	ctx, cancel := context.WithTimeout(ctx, r.Options.Restart.WorkloadTimeout)
	defer cancel()
	waiting := func(msg string) { r.report(Event{Index: index, Step: s, Status: StepWaiting, Message: msg}) }
	w, err := r.getWorkload(ctx, id)
	if err != nil {
		return "", err
	}
	resumed := w.template.Annotations[RestartedForAnnotation] == restartedFor
	// A workload broken before the upgrade will not turn healthy before its
	// restart either: it is restarted without waiting for that.
	waitSafe := !rollback && !s.UnhealthyBefore
	for !resumed {
		if waitSafe {
			if err := r.waitSafeToRestart(ctx, w, waiting); err != nil {
				return "", err
			}
			// The wait read the workload again: another writer may have
			// restarted it meanwhile. The stamp's precondition is this
			// very version, so the answer holds until it lands.
			if w.template.Annotations[RestartedForAnnotation] == restartedFor {
				resumed = true
				break
			}
		}
		err := r.stamp(ctx, w, restartedFor)
		if err == nil {
			break
		}
		if !apierrors.IsConflict(err) {
			return "", err
		}
		// The workload changed since it was read: another writer may have
		// restarted it for the same revision. Read it again and decide again.
		if err := r.reread(ctx, w); err != nil {
			return "", err
		}
		resumed = w.template.Annotations[RestartedForAnnotation] == restartedFor
	}
	if !rollback {
		r.moved(ctx, id)
	}
	if err := r.waitOnRevision(ctx, w, want, s.Proxy, waiting); err != nil {
		return "", err
	}
	if resumed {
		return "restarted by an earlier run; now on " + want, nil
	}
	r.countRestart()
	return "on " + want, nil
}

// deleteBarePod deletes a pod no controller owns, as the plan says only
// when deleteBarePods is on: it does not come back.
func (r *run) deleteBarePod(ctx context.Context, s plan.Step) (string, error) {
	w := s.Target.Workload
	if w == nil || w.Kind != ref.Pod {
		return "", fmt.Errorf("%s: only bare pods are deleted", s.Target)
	}
	pod := &corev1.Pod{}
	pod.Namespace, pod.Name = w.Namespace, w.Name
	if err := r.Cluster.Client.Delete(ctx, pod); err != nil && !apierrors.IsNotFound(err) {
		return "", fmt.Errorf("deleting bare pod %s: %w", s.Target, err)
	}
	r.log.Info("bare pod deleted", "workload", w.String())
	return "deleted; nothing recreates it", nil
}

func (r *run) countRestart() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.res.Restarted++
}

// moved records a workload as moved by this rollout, in the cluster, so a
// rollback after a crash still knows to return it. The workers of a batch
// move their workloads together, and one record write takes all that are
// waiting (a group commit): a write each, a GET and a PUT of the same
// ConfigMap, held a 200-workload upgrade back behind the client's rate
// limit. Writes group only while one is under way when the next workload
// moves; on a fast API server that is seldom, so the write itself is one
// request, from the record's shared watch. moved returns once a write
// holding id succeeded or failed.
func (r *run) moved(ctx context.Context, id ref.Workload) {
	r.mu.Lock()
	if slices.Contains(r.restarted, id) {
		r.mu.Unlock()
		return
	}
	r.restarted = append(r.restarted, id)
	mine := len(r.restarted)
	r.mu.Unlock()

	r.recordMu.Lock()
	defer r.recordMu.Unlock()
	r.mu.Lock()
	if r.recorded >= mine {
		// The write that ran while this one waited held id.
		r.mu.Unlock()
		return
	}
	list := slices.Clone(r.restarted)
	r.mu.Unlock()
	// From the record's watch the write is one request, a patch of the
	// copy it holds; without it, a read and a write.
	ws := r.watches.Load()
	_, written, err := r.Store.UpdateFrom(ctx, ws.record(), func(rec *state.Record) {
		if rec.Progress != nil {
			rec.Progress.Restarted = list
		}
		// A suspend the write found stops the next restart even before
		// the record's watch brings it.
		if rec.Suspended {
			r.suspendSeen.Store(true)
		}
	})
	if err != nil {
		r.log.Error("recording moved workloads", "workload", id.String(), "workloads", len(list), "error", err)
		return
	}
	if written != nil {
		ws.wrote(written)
	}
	r.mu.Lock()
	r.recorded = max(r.recorded, len(list))
	r.mu.Unlock()
}

// stamp restarts the workload as `kubectl rollout restart` does, as a
// compare-and-swap: the patch carries the resourceVersion the decision to
// restart was made on, so of two writers that decided at once only one
// restarts it; the other gets a conflict (returned wrapped, for IsConflict).
func (r *run) stamp(ctx context.Context, w *workload, restartedFor string) error {
	patch := fmt.Sprintf(`{"metadata":{"resourceVersion":%q},"spec":{"template":{"metadata":{"annotations":{%q:%q,%q:%q}}}}}`,
		w.obj.GetResourceVersion(), RestartedAtAnnotation, time.Now().UTC().Format(time.RFC3339), RestartedForAnnotation, restartedFor)
	if err := r.Cluster.Client.Patch(ctx, w.obj, client.RawPatch(types.MergePatchType, []byte(patch))); err != nil {
		return fmt.Errorf("restarting %s: %w", w.id, err)
	}
	r.log.Info("restarted", "workload", w.id.String(), "for", restartedFor)
	return nil
}

// restartFailedError is why the waits of the other restarts under way
// end when one restart fails: no new restart starts, and they stop
// waiting (their rollouts go on in the cluster, and a rollback follows).
type restartFailedError struct{ Workload string }

func (e *restartFailedError) Error() string { return e.Workload + " failed" }

// waitStopped says why a restart's wait for what ended before it was
// done: the workload's own timeout, or the rollout stopping around it
// (another restart failed, the target turned unhealthy, the command was
// interrupted), with the last thing it waited on. It does not wrap the
// context's error: the deadline is the workload's, not a request's, and
// a cancel is not this workload's failure.
func waitStopped(ctx context.Context, what string, timeout time.Duration, last string) error {
	cause := context.Cause(ctx)
	switch {
	case errors.Is(cause, context.DeadlineExceeded):
		return fmt.Errorf("%s within %s: %s", what, timeout, last)
	case cause == nil || errors.Is(cause, context.Canceled):
		return fmt.Errorf("%s: stopped waiting (%s): interrupted", what, last)
	}
	return fmt.Errorf("%s: stopped waiting (%s) because %v", what, last, cause)
}

// waitSafeToRestart waits, within the workload's timeout, until it is fully
// rolled out and available and no PodDisruptionBudget covering its pods is
// at zero allowed disruptions: restarting then would be an outage.
func (r *run) waitSafeToRestart(ctx context.Context, w *workload, waiting func(string)) error {
	last, err := r.waitRolledOut(ctx, w, waiting, func() (string, error) { return r.pdbBlocks(ctx, w) })
	if err != nil && ctx.Err() != nil {
		return waitStopped(ctx, w.id.String()+" not safe to restart", r.Options.Restart.WorkloadTimeout, last)
	}
	return err
}

// waitRolledOut waits until w's rollout is complete and then, if given,
// until check reports nothing more to wait for (""). Each time what it
// waits for changes, it tells waiting. It returns the last thing it waited
// on, for the caller's timeout message.
//
// It reads w, its pods and budgets from the shared watches and wakes on
// their events for w; without them (a client that cannot watch, a watch
// refused) it reads the API server every poll interval.
func (r *run) waitRolledOut(ctx context.Context, w *workload, waiting func(string), check func() (string, error)) (string, error) {
	ws := r.watches.Load()
	sub := ws.subscribe(w)
	defer ws.unsubscribe(sub)
	var last string
	for {
		if err := r.read(ctx, w); err != nil {
			if ctx.Err() != nil {
				return last, ctx.Err()
			}
			return last, err
		}
		st := w.status()
		msg := st.Message
		if st.Done {
			more, err := check()
			if err != nil || more == "" {
				return msg, err
			}
			msg = more
		}
		if msg != last && waiting != nil {
			waiting(msg)
		}
		last = msg
		if err := r.next(ctx, sub, ws.live(w.id)); err != nil {
			return last, err
		}
	}
}

// watchedPolls is how many poll intervals a wait lets pass without an
// event while the shared watches are live: they bring every change, so
// the wait then only looks at their caches again, a safety net that costs
// no request.
const watchedPolls = 10

// next waits for an event of the wait's subscription or the poll interval,
// whichever comes first; the interval is watchedPolls times longer while
// every watch the wait reads is live.
func (r *run) next(ctx context.Context, sub *subscription, live bool) error {
	interval := r.Options.PollInterval
	var wake <-chan struct{}
	if sub != nil {
		wake = sub.wake
		if live {
			interval *= watchedPolls
		}
	}
	t := time.NewTimer(interval)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-wake:
	case <-t.C:
	}
	return nil
}

func (r *run) pdbBlocks(ctx context.Context, w *workload) (string, error) {
	ns := w.id.Namespace
	pdbs, ok := r.watches.Load().pdbsIn(ns)
	if !ok {
		var list policyv1.PodDisruptionBudgetList
		if err := r.Cluster.Client.List(ctx, &list, client.InNamespace(ns)); err != nil {
			return "", fmt.Errorf("listing PodDisruptionBudgets in %s: %w", ns, err)
		}
		for i := range list.Items {
			pdbs = append(pdbs, &list.Items[i])
		}
	}
	podLabels := labels.Set(w.template.Labels)
	for _, pdb := range pdbs {
		sel, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector)
		if err != nil || sel.Empty() || !sel.Matches(podLabels) {
			continue
		}
		if pdb.Status.DisruptionsAllowed < 1 {
			return fmt.Sprintf("PodDisruptionBudget %s allows no disruption now (%d of %d desired healthy)",
				pdb.Name, pdb.Status.CurrentHealthy, pdb.Status.DesiredHealthy), nil
		}
	}
	return "", nil
}

// waitOnRevision waits until the rollout is complete and every live pod
// runs rev (and proxy, when set). Pods that came up on another revision
// after the rollout completed fail at once: waiting will not fix them.
func (r *run) waitOnRevision(ctx context.Context, w *workload, rev, proxy string, waiting func(string)) error {
	sel, err := metav1.LabelSelectorAsSelector(w.selector())
	if err != nil {
		return fmt.Errorf("%s: selector: %w", w.id, err)
	}
	ns := w.id.Namespace
	last, err := r.waitRolledOut(ctx, w, waiting, func() (string, error) {
		// The pods' watch answers when it shows every pod of the rollout on
		// rev. It may lag behind the workload's (another stream): when it
		// shows a pod off rev or too few, the API server decides.
		if pods, ok := r.watches.Load().podsIn(ns); ok {
			if wrong, live := podsOffRevision(pods, sel, rev, proxy); len(wrong) == 0 && live >= int(w.desired()) {
				return "", nil
			}
		}
		var list corev1.PodList
		if err := r.Cluster.Client.List(ctx, &list, client.InNamespace(ns), client.MatchingLabelsSelector{Selector: sel}); err != nil {
			return "", fmt.Errorf("listing pods in %s: %w", ns, err)
		}
		pods := make([]*corev1.Pod, len(list.Items))
		for i := range list.Items {
			pods[i] = &list.Items[i]
		}
		if wrong, _ := podsOffRevision(pods, sel, rev, proxy); len(wrong) > 0 {
			return "", fmt.Errorf("%s rolled out but its pods came up on the wrong revision (want %s): %s", w.id, rev, strings.Join(wrong, ", "))
		}
		return "", nil
	})
	if err != nil && ctx.Err() != nil {
		return waitStopped(ctx, fmt.Sprintf("%s did not roll out onto %s", w.id, rev), r.Options.Restart.WorkloadTimeout, last)
	}
	return err
}

// podsOffRevision names the live pods sel matches that run another
// revision than rev (or proxy, when set), and counts the live ones.
func podsOffRevision(pods []*corev1.Pod, sel labels.Selector, rev, proxy string) (wrong []string, live int) {
	for _, p := range pods {
		if p.DeletionTimestamp != nil || p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed || !sel.Matches(labels.Set(p.Labels)) {
			continue
		}
		live++
		sc := mesh.SidecarOf(p)
		switch {
		case sc.Revision != rev:
			wrong = append(wrong, fmt.Sprintf("%s on %q", p.Name, sc.Revision))
		case proxy != "" && mesh.ImageTag(sc.Image) != proxy:
			wrong = append(wrong, fmt.Sprintf("%s with proxy %s", p.Name, mesh.ImageTag(sc.Image)))
		}
	}
	sort.Strings(wrong)
	return wrong, live
}
