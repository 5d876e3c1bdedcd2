package bench

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"github.com/meshops/meshops/mesh"
)

// The peer: ARO-Tools' istio-upgrade (github.com/Azure/ARO-Tools,
// tools/istio-upgrade), which ARO HCP's pipeline runs. What follows is a
// model of its workload migration written for this bench from the
// behaviour of pkg/istio/workloads.go, kubeclient.go and upgrade.go at
// commit 04a8968085a8a4b6e415070db1a917585ef09ba7 (docs/benchmarks.md
// lists what is modelled); none of its code is used.
//
// After the tag moved (the harness moves it as istioctl writes it, as for
// the script), the tool:
//
//  1. lists the mesh namespaces: those with an istio.io/rev label;
//  2. restarts, ten namespaces at a time, in each namespace every
//     Deployment with a running, not deleting pod whose sidecar is not on
//     the target revision (one LIST of running pods, one LIST of
//     ReplicaSets to map a pod to its Deployment, then one strategic
//     merge PATCH of the restartedAt annotation per Deployment, one after
//     the other, without waiting); errors are collected, every namespace
//     runs, and any error ends the migration before the wait;
//  3. only when every namespace is restarted, waits, ten namespaces at a
//     time, for each namespace's Deployments, StatefulSets and DaemonSets
//     (three LISTs per poll, the first at once, then every 10 s, for at
//     most 15 minutes per namespace), a workload counting as pending
//     while its generation is not observed or its updated or ready
//     replicas are below its desired ones.
//
// It checks no PodDisruptionBudget and bounds no number of rollouts: the
// whole namespace restarts at once. Its client is client-go's with the
// limits left at their defaults (kubeclient.go sets none): 5 requests a
// second, burst 10, per API group.

// peerOptions are the tool's settings the model follows.
type peerOptions struct {
	// NamespaceLimit namespaces are restarted, then waited on, at once
	// (namespaceConcurrencyLimit, an errgroup limit).
	NamespaceLimit int
	// PollInterval and Timeout are the rollout wait's
	// (DefaultUpgradeOptions: RolloutPollInterval, RolloutTimeout).
	PollInterval, Timeout time.Duration
}

func defaultPeerOptions() peerOptions {
	return peerOptions{NamespaceLimit: 10, PollInterval: 10 * time.Second, Timeout: 15 * time.Minute}
}

// peerUpgrade migrates the workloads of the mesh namespaces among keep to
// target the way the tool does, and says how many Deployments it
// restarted. The cluster is shared with other rows, so of the labelled
// namespaces only the row's own (keep) are migrated.
func peerUpgrade(ctx context.Context, cs kubernetes.Interface, keep []string, target string, o peerOptions) (int, error) {
	list, err := cs.CoreV1().Namespaces().List(ctx, metav1.ListOptions{LabelSelector: mesh.RevisionLabel})
	if err != nil {
		return 0, fmt.Errorf("list mesh namespaces: %w", err)
	}
	var namespaces []string
	for _, ns := range list.Items {
		if slices.Contains(keep, ns.Name) {
			namespaces = append(namespaces, ns.Name)
		}
	}
	if len(namespaces) != len(keep) {
		return 0, fmt.Errorf("%d of the row's %d namespaces carry %s", len(namespaces), len(keep), mesh.RevisionLabel)
	}

	restarted := make([]int, len(namespaces))
	restartErrs := eachLimited(len(namespaces), o.NamespaceLimit, func(i int) error {
		var err error
		restarted[i], err = peerRestartNamespace(ctx, cs, namespaces[i], target)
		return err
	})
	total := 0
	for _, n := range restarted {
		total += n
	}
	if err := errors.Join(restartErrs...); err != nil {
		return total, fmt.Errorf("workload restart failed: %w", err)
	}
	waitErrs := eachLimited(len(namespaces), o.NamespaceLimit, func(i int) error {
		return peerWaitNamespace(ctx, cs, namespaces[i], o)
	})
	if err := errors.Join(waitErrs...); err != nil {
		return total, fmt.Errorf("rollout convergence failed: %w", err)
	}
	return total, nil
}

// eachLimited runs do(0..n-1), at most limit at once, every one to its
// end whatever the others return (the tool's errgroup functions keep
// their error and return nil), and returns the errors.
func eachLimited(n, limit int, do func(i int) error) []error {
	errs := make([]error, n)
	slots := make(chan struct{}, limit)
	var wg sync.WaitGroup
	for i := range n {
		slots <- struct{}{}
		wg.Go(func() {
			defer func() { <-slots }()
			errs[i] = do(i)
		})
	}
	wg.Wait()
	return errs
}

// peerRestartNamespace restarts the namespace's stale Deployments, all of
// them without waiting, and returns how many it patched.
func peerRestartNamespace(ctx context.Context, cs kubernetes.Interface, ns, target string) (int, error) {
	pods, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{FieldSelector: "status.phase=Running"})
	if err != nil {
		return 0, fmt.Errorf("%s: list pods: %w", ns, err)
	}
	replicaSets, err := cs.AppsV1().ReplicaSets(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return 0, fmt.Errorf("%s: list replicasets: %w", ns, err)
	}
	stale, others := peerStale(pods.Items, replicaSets.Items, target)
	if len(others) > 0 {
		// The tool restarts these too (StatefulSets and DaemonSets by the
		// same patch, bare pods by deletion); the bench fleet has none.
		return 0, fmt.Errorf("%s: the model restarts Deployments only; stale pods of other owners: %v", ns, others)
	}
	var errs []error
	patched := 0
	for _, name := range stale {
		patch := peerRestartPatch(time.Now())
		if _, err := cs.AppsV1().Deployments(ns).Patch(ctx, name, types.StrategicMergePatchType, patch, metav1.PatchOptions{}); err != nil {
			errs = append(errs, fmt.Errorf("deployment/%s: %w", name, err))
			continue
		}
		patched++
	}
	if err := errors.Join(errs...); err != nil {
		return patched, fmt.Errorf("restart errors in %s: %w", ns, err)
	}
	return patched, nil
}

// peerStale names the Deployments whose running pods carry a sidecar
// from another revision than target, sorted; and the stale pods that no
// Deployment controls. Pods being deleted and pods without a sidecar
// revision are not looked at.
func peerStale(pods []corev1.Pod, replicaSets []appsv1.ReplicaSet, target string) (deployments, others []string) {
	deploymentOf := map[string]string{}
	for i := range replicaSets {
		rs := &replicaSets[i]
		if owner := metav1.GetControllerOf(rs); owner != nil && owner.Kind == "Deployment" {
			deploymentOf[rs.Name] = owner.Name
		}
	}
	for i := range pods {
		p := &pods[i]
		rev := mesh.SidecarOf(p).Revision
		if p.DeletionTimestamp != nil || rev == "" || rev == target {
			continue
		}
		owner := metav1.GetControllerOf(p)
		if owner != nil && owner.Kind == "ReplicaSet" {
			if d, ok := deploymentOf[owner.Name]; ok {
				if !slices.Contains(deployments, d) {
					deployments = append(deployments, d)
				}
				continue
			}
		}
		others = append(others, p.Name)
	}
	slices.Sort(deployments)
	return deployments, others
}

// peerRestartPatch is the tool's restart: kubectl's restartedAt
// annotation on the pod template, at the second.
func peerRestartPatch(now time.Time) []byte {
	return fmt.Appendf(nil, `{"spec":{"template":{"metadata":{"annotations":{"kubectl.kubernetes.io/restartedAt":%q}}}}}`, now.Format(time.RFC3339))
}

// peerWaitNamespace polls the namespace's workloads until none is
// pending: at once, then every PollInterval, for at most Timeout.
func peerWaitNamespace(ctx context.Context, cs kubernetes.Interface, ns string, o peerOptions) error {
	err := wait.PollUntilContextTimeout(ctx, o.PollInterval, o.Timeout, true, func(ctx context.Context) (bool, error) {
		var workloads []peerWorkload
		deployments, err := cs.AppsV1().Deployments(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, fmt.Errorf("list deployments: %w", err)
		}
		for _, d := range deployments.Items {
			workloads = append(workloads, peerWorkload{d.Spec.Template.Annotations, ptr.Deref(d.Spec.Replicas, 1),
				d.Status.UpdatedReplicas, d.Status.ReadyReplicas, d.Generation, d.Status.ObservedGeneration})
		}
		statefulSets, err := cs.AppsV1().StatefulSets(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, fmt.Errorf("list statefulsets: %w", err)
		}
		for _, s := range statefulSets.Items {
			workloads = append(workloads, peerWorkload{s.Spec.Template.Annotations, ptr.Deref(s.Spec.Replicas, 1),
				s.Status.UpdatedReplicas, s.Status.ReadyReplicas, s.Generation, s.Status.ObservedGeneration})
		}
		daemonSets, err := cs.AppsV1().DaemonSets(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, fmt.Errorf("list daemonsets: %w", err)
		}
		for _, d := range daemonSets.Items {
			workloads = append(workloads, peerWorkload{d.Spec.Template.Annotations, d.Status.DesiredNumberScheduled,
				d.Status.UpdatedNumberScheduled, d.Status.NumberReady, d.Generation, d.Status.ObservedGeneration})
		}
		for _, w := range workloads {
			if w.templateAnnotations[mesh.InjectLabel] != "false" && w.pending() {
				return false, nil
			}
		}
		return true, nil
	})
	if err != nil {
		return fmt.Errorf("rollout did not converge in %s: %w", ns, err)
	}
	return nil
}

// peerWorkload is what the tool's wait reads of a Deployment,
// StatefulSet or DaemonSet; one with sidecar injection turned off in its
// template is not waited on.
type peerWorkload struct {
	templateAnnotations            map[string]string
	desired, updated, ready        int32
	generation, observedGeneration int64
}

// pending is the tool's test of a workload still rolling. It counts ready
// replicas of any revision: a one-replica Deployment whose new pod exists
// but is not ready yet, its old pod still serving, has 1 updated and 1
// ready replica and is no longer pending, so the tool can return before
// the rollouts it started are complete (the harness's watch sees when
// they are).
func (w peerWorkload) pending() bool {
	if w.desired == 0 {
		return false
	}
	return w.observedGeneration < w.generation || w.updated < w.desired || w.ready < w.desired
}

// benchPeerUpgrade is ARO-Tools' strategy on the same fleet as meshops'
// and the script's rows: the tag moved as the script's row moves it,
// then the model above, through a client whose limits are the tool's
// (lifted: none, to measure the strategy rather than its client).
func benchPeerUpgrade(b *testing.B, n int, lifted bool) {
	b.StopTimer()
	id := fmt.Sprintf("p%d", n)
	qps, burst := float32(0), 0 // client-go's defaults, as the tool's client
	if lifted {
		id += "l"
		qps = -1
	}
	f := newUpgradeFixture(b, id, n, 0)
	cs, err := kubernetes.NewForConfig(f.meter.configLimited(env.Cluster.Config, qps, burst))
	if err != nil {
		b.Fatal(err)
	}
	r := f.measure(b.Name(), 0, func(ctx context.Context) (int64, int, error) {
		f.meter.reset()
		before := f.meter.count()
		if err := env.SetTagByHand(ctx, f.tag, toRevision); err != nil {
			return 0, 0, err
		}
		restarted, err := peerUpgrade(ctx, cs, f.namespaces, toRevision, defaultPeerOptions())
		if err == nil && restarted != n {
			err = fmt.Errorf("restarted %d Deployments, want %d", restarted, n)
		}
		return f.meter.count() - before, restarted, err
	})
	r.Peer, r.PeerLifted = true, lifted
	results.addUpgrade(r)
	results.note("Requests of %s (the tag moved by the harness, not counted): %s.", b.Name(), f.meter.breakdown())
	b.ReportMetric(float64(r.Requests), "requests/op")
}

func TestPeerStaleNamesDeploymentsWithASidecarOffTheTarget(t *testing.T) {
	controller := func(kind, name string) []metav1.OwnerReference {
		return []metav1.OwnerReference{{Kind: kind, Name: name, Controller: ptr.To(true)}}
	}
	pod := func(name, rev string, owners []metav1.OwnerReference) corev1.Pod {
		p := corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, OwnerReferences: owners}}
		if rev != "" {
			p.Annotations = map[string]string{mesh.SidecarStatusAnnotation: fmt.Sprintf(`{"revision":%q}`, rev)}
		}
		return p
	}
	deleting := pod("web-old-x", "asm-1-28", controller("ReplicaSet", "web-old"))
	deleting.DeletionTimestamp = &metav1.Time{Time: time.Now()}
	replicaSets := []appsv1.ReplicaSet{
		{ObjectMeta: metav1.ObjectMeta{Name: "web-old", OwnerReferences: controller("Deployment", "web")}},
		{ObjectMeta: metav1.ObjectMeta{Name: "api-1", OwnerReferences: controller("Deployment", "api")}},
		{ObjectMeta: metav1.ObjectMeta{Name: "db-1", OwnerReferences: controller("Deployment", "db")}},
		{ObjectMeta: metav1.ObjectMeta{Name: "bare-rs"}},
	}
	for _, tc := range []struct {
		name          string
		pods          []corev1.Pod
		wantDeploy    []string
		wantNotDeploy []string
	}{
		{"a pod on the old revision restarts its Deployment once", []corev1.Pod{
			pod("web-old-a", "asm-1-28", controller("ReplicaSet", "web-old")),
			pod("web-old-b", "asm-1-28", controller("ReplicaSet", "web-old")),
			pod("api-1-a", "asm-1-28", controller("ReplicaSet", "api-1")),
		}, []string{"api", "web"}, nil},
		{"pods on the target, without a sidecar or being deleted are left", []corev1.Pod{
			pod("db-1-a", "asm-1-29", controller("ReplicaSet", "db-1")),
			pod("api-1-a", "", controller("ReplicaSet", "api-1")),
			deleting,
		}, nil, nil},
		{"stale pods of other owners are not Deployments", []corev1.Pod{
			pod("bare", "asm-1-28", nil),
			pod("bare-rs-a", "asm-1-28", controller("ReplicaSet", "bare-rs")),
			pod("db-0", "asm-1-28", controller("StatefulSet", "db")),
		}, nil, []string{"bare", "bare-rs-a", "db-0"}},
	} {
		deploy, others := peerStale(tc.pods, replicaSets, "asm-1-29")
		if !slices.Equal(deploy, tc.wantDeploy) || !slices.Equal(others, tc.wantNotDeploy) {
			t.Errorf("%s: Deployments %v, others %v; want %v, %v", tc.name, deploy, others, tc.wantDeploy, tc.wantNotDeploy)
		}
	}
}

func TestPeerPendingCountsReadyReplicasOfAnyRevision(t *testing.T) {
	for _, tc := range []struct {
		name                    string
		desired, updated, ready int32
		generation, observed    int64
		want                    bool
	}{
		{"generation not observed", 1, 1, 1, 2, 1, true},
		{"new pod not created yet", 1, 0, 1, 2, 2, true},
		{"new pod created, not ready, old pod ready: done for the tool", 1, 1, 1, 2, 2, false},
		{"no pod ready", 1, 1, 0, 2, 2, true},
		{"scaled to zero", 0, 0, 0, 3, 1, false},
		{"complete", 3, 3, 3, 2, 2, false},
	} {
		w := peerWorkload{desired: tc.desired, updated: tc.updated, ready: tc.ready, generation: tc.generation, observedGeneration: tc.observed}
		if got := w.pending(); got != tc.want {
			t.Errorf("%s: pending %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestPeerRestartPatchSetsKubectlsRestartedAt(t *testing.T) {
	got := string(peerRestartPatch(time.Date(2026, 11, 28, 11, 30, 5, 123, time.UTC)))
	want := `{"spec":{"template":{"metadata":{"annotations":{"kubectl.kubernetes.io/restartedAt":"2026-11-28T11:30:05Z"}}}}}`
	if got != want {
		t.Errorf("patch %s, want %s", got, want)
	}
}

func TestEachLimitedRunsEveryOneAtMostLimitAtOnce(t *testing.T) {
	var mu sync.Mutex
	running, peak, ran := 0, 0, 0
	errs := eachLimited(25, 10, func(i int) error {
		mu.Lock()
		running++
		ran++
		peak = max(peak, running)
		mu.Unlock()
		time.Sleep(time.Millisecond)
		mu.Lock()
		running--
		mu.Unlock()
		if i%7 == 0 {
			return fmt.Errorf("namespace %d", i)
		}
		return nil
	})
	if ran != 25 || peak > 10 {
		t.Errorf("ran %d (want 25), at most %d at once (want ≤ 10)", ran, peak)
	}
	failed := 0
	for _, err := range errs {
		if err != nil {
			failed++
		}
	}
	if failed != 4 {
		t.Errorf("%d errors kept, want 4 (0, 7, 14, 21)", failed)
	}
}
