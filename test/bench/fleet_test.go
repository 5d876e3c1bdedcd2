package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/fluxcd/cli-utils/pkg/object"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/meshops/meshops/configs"
	"github.com/meshops/meshops/mesh"
	"github.com/meshops/meshops/plan"
	"github.com/meshops/meshops/rollout"
	"github.com/meshops/meshops/state"
	"github.com/meshops/meshops/test/e2e"
	"github.com/meshops/meshops/test/fixtures"
)

const (
	fleetTag = "bench-fleet"
	// fleetNamespaceSize workloads share a namespace, as in plan's own
	// benchmark.
	fleetNamespaceSize  = fixtures.FleetNamespaceSize
	policiesPerWorkload = fixtures.PoliciesPerWorkload
	// planSamples plans are timed per size, after one untimed warm-up
	// that fills the REST mapper's discovery cache.
	planSamples = 5
	// loadSamples loads of the repo are timed per size.
	loadSamples = 3
)

// fleetSizes grow one fleet: each size adds workloads to the last.
var fleetSizes = []int{100, 500, 2000}

// fleet is the observe + plan fixture: real one-replica Deployments in
// namespaces on a tag that points at asm-1-28, rolled out by the
// controller-manager, scheduled, injected by the real istiod and run by
// kwok, so every list weighs what it weighs in a real cluster; and the
// policies of the repo, created directly with meshops' owner labels, as a
// sync would have left them.
type fleet struct {
	seeded int
	c      client.Client
	// meter counts the requests of cluster, meshops' client; one for all
	// sizes, so the policies keep one owner label.
	meter   meter
	cluster plan.Cluster
}

func benchObserveAndPlan(b *testing.B) {
	waitQuiet(b)
	fl := &fleet{c: clientFor(b)}
	fl.cluster, _ = env.MeshopsWith(b, fl.meter.config(env.Cluster.Config))
	if err := env.SetTagByHand(context.Background(), fleetTag, fromRevision); err != nil {
		b.Fatal(err)
	}
	for _, n := range fleetSizes {
		b.Run(fmt.Sprintf("%d-workloads", n), func(b *testing.B) { fl.bench(b, n) })
	}
}

func (fl *fleet) bench(b *testing.B, n int) {
	ctx := context.Background()
	repo := b.TempDir()
	writeFleetRepo(b, repo, n)
	// configs.Load, loadSamples times (the first reads the files from
	// disk, the others from the page cache); the median.
	var cfg *configs.Config
	loads := make([]time.Duration, 0, loadSamples)
	for range loadSamples {
		start := time.Now()
		c, err := loadRepo(repo)
		if err != nil {
			b.Fatal(err)
		}
		loads = append(loads, time.Since(start))
		cfg = c
	}
	slices.Sort(loads)
	cluster := fl.cluster
	progress("observe+plan: seeding workloads %d to %d", fl.seeded, n)
	if err := fl.seed(ctx, cluster, cfg, n); err != nil {
		b.Fatal(err)
	}
	// The record after a sync at c0: every policy in the inventory.
	rec := &state.Record{LastAppliedCommit: "c0", Inventory: make(object.ObjMetadataSet, 0, len(cfg.Manifests))}
	for _, man := range cfg.Manifests {
		rec.Inventory = append(rec.Inventory, man.ObjMetadata())
	}
	// meshops plan as its own process is measured first, on the settled
	// fleet: the plans timed in process below leave the API server busy
	// for a while after them (its collector, after streaming the fleet five
	// times), which is that row's, not this one's.
	var cli *cliResult
	if *meshopsBin != "" && n == fleetSizes[len(fleetSizes)-1] {
		var err error
		if cli, err = planByCLI(repo, cluster.OwnerNamespace); err != nil {
			b.Fatal(err)
		}
		progress("meshops plan %d: median %s, peak RSS %s MiB (meshops version %s MiB)", n, ms(cli.Median), mib(cli.PeakRSS), mib(cli.VersionRSS))
	}
	computeOnce := func() *plan.Plan {
		p, err := plan.Compute(ctx, cluster, cfg, plan.ComputeOptions{Commit: "c1", Record: rec})
		if err != nil {
			b.Fatal(err)
		}
		return p
	}
	p := computeOnce()
	restarts, changes := 0, 0
	for _, s := range p.Steps {
		switch s.Phase {
		case plan.PhaseRestarts:
			restarts++
		case plan.PhaseMeshConfig, plan.PhasePolicies:
			changes++
		}
	}
	if p.Scenario != plan.ScenarioUpgrade || restarts != n {
		b.Fatalf("plan is %s with %d restarts (%s); want an upgrade restarting %d", p.Scenario, restarts, p.Reason, n)
	}
	progress("observe+plan: %d workloads seeded, measuring", n)

	stopProfile := profile(b, fmt.Sprintf("observe-plan-%d", n))
	if err := resetPeakRSS(); err != nil {
		b.Logf("peak RSS not measured: %v", err)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	requestsBefore := fl.meter.count()
	times := make([]time.Duration, 0, planSamples)
	b.ReportAllocs()
	for b.Loop() {
		for range planSamples {
			start := time.Now()
			computeOnce()
			times = append(times, time.Since(start))
		}
	}
	runtime.ReadMemStats(&after)
	rss, _ := peakRSS()
	stopProfile()
	slices.Sort(times)
	plans := uint64(len(times))
	r := planResult{
		Workloads: n, Policies: n * policiesPerWorkload, Samples: len(times),
		Median: times[len(times)/2], Max: times[len(times)-1],
		Load: loads[len(loads)/2], LoadMax: loads[len(loads)-1], LoadSamples: len(loads),
		Requests: (fl.meter.count() - requestsBefore) / int64(plans),
		Allocs:   (after.Mallocs - before.Mallocs) / plans, Bytes: (after.TotalAlloc - before.TotalAlloc) / plans,
		PeakRSS: rss, Scenario: string(p.Scenario), Restarts: restarts, Changes: changes, CLI: cli,
	}
	results.addPlan(r)
	if *hold && n == fleetSizes[len(fleetSizes)-1] {
		holdFleet(repo, cluster.OwnerNamespace)
	}
	b.ReportMetric(float64(r.Median.Milliseconds()), "ms/plan")
	b.ReportMetric(float64(r.Requests), "requests/plan")
	b.ReportMetric(float64(rss>>20), "peak-RSS-MiB")
	progress("observe+plan %d: median %s, %d requests, peak RSS %s MiB", n, ms(r.Median), r.Requests, mib(rss))
}

func fleetNamespace(i int) string { return fixtures.FleetNamespace(i) }

// writeFleetRepo writes the repo of a fleet of n workloads: every
// namespace on fleetTag, five policies per workload (the first workload's
// first is the namespace's default deny), target asm-1-29.
func writeFleetRepo(b testing.TB, dir string, n int) {
	e2e.WriteFiles(b, dir, fixtures.FleetRepo(n, repoValues(fleetTag, toRevision)))
}

// seed brings the fleet to n workloads and the policies of cfg, applied
// as meshops applies them (its owner labels), so the plan finds them in
// sync, then waits until every pod runs. Eight requests at a time.
func (fl *fleet) seed(ctx context.Context, cluster plan.Cluster, cfg *configs.Config, n int) error {
	firstNS := (fl.seeded + fleetNamespaceSize - 1) / fleetNamespaceSize
	lastNS := (n + fleetNamespaceSize - 1) / fleetNamespaceSize
	for i := firstNS; i < lastNS; i++ {
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: fleetNamespace(i), Labels: map[string]string{mesh.RevisionLabel: fleetTag}}}
		if err := fl.c.Create(ctx, ns); err != nil {
			return err
		}
	}
	var (
		jobs = make(chan func() error)
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
	)
	for range 8 {
		wg.Go(func() {
			for job := range jobs {
				if err := job(); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}
		})
	}
	for w := fl.seeded; w < n; w++ {
		jobs <- func() error {
			return fl.workload(ctx, fleetNamespace(w/fleetNamespaceSize), fmt.Sprintf("app-%d", w%fleetNamespaceSize))
		}
	}
	owned := plan.Owned(cluster, cfg.Manifests)
	for _, m := range owned {
		if m.GetNamespace() < fleetNamespace(firstNS) {
			continue
		}
		obj := m.Unstructured()
		jobs <- func() error { return fl.c.Create(ctx, obj) }
	}
	close(jobs)
	wg.Wait()
	if len(errs) > 0 {
		return fmt.Errorf("seeding %d errors, the first: %w", len(errs), errs[0])
	}
	fl.seeded = n
	return fl.waitRunning(ctx, n)
}

// workload creates a one-replica Deployment whose pods kwok runs.
func (fl *fleet) workload(ctx context.Context, ns, name string) error {
	labels := map[string]string{"app": name}
	d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: map[string]string{"app": name, rowLabel: fleetTag}},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](1),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": name, rowLabel: fleetTag}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.example/" + name + ":1"}}},
			},
		}}
	return fl.c.Create(ctx, d)
}

// waitRunning waits until n fleet pods run, each injected by asm-1-28,
// and the controllers have stopped writing about them, so the plan is
// measured on a quiet cluster.
func (fl *fleet) waitRunning(ctx context.Context, n int) error {
	deadline := time.Now().Add(5 * time.Minute)
	for {
		var pods corev1.PodList
		if err := fl.c.List(ctx, &pods, client.MatchingLabels{rowLabel: fleetTag}); err != nil {
			return err
		}
		running := 0
		for i := range pods.Items {
			p := &pods.Items[i]
			if rev := mesh.SidecarOf(p).Revision; rev != fromRevision {
				return fmt.Errorf("fleet pod %s/%s injected by %q, want %s", p.Namespace, p.Name, rev, fromRevision)
			}
			if countsTowardFloor(p) {
				running++
			}
		}
		if running >= n {
			return fl.waitSettled(ctx, n, deadline)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("only %d of %d fleet pods running after 5 minutes: %s", running, n, fl.diagnose(ctx, &pods))
		}
		time.Sleep(time.Second)
	}
}

// waitSettled waits until the Deployment controller has caught up with
// the fleet's pods: every fleet Deployment's rollout complete as meshops
// judges it (rollout.Deployment), so no status write of the seeding burst
// competes with the plans measured next.
func (fl *fleet) waitSettled(ctx context.Context, n int, deadline time.Time) error {
	for {
		var deploys appsv1.DeploymentList
		if err := fl.c.List(ctx, &deploys, client.MatchingLabels{rowLabel: fleetTag}); err != nil {
			return err
		}
		done, pending := 0, ""
		for i := range deploys.Items {
			d := &deploys.Items[i]
			if st := rollout.Deployment(d); st.Done {
				done++
			} else if pending == "" {
				pending = d.Namespace + "/" + d.Name + ": " + st.Message
			}
		}
		if done >= n {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("only %d of %d fleet Deployments rolled out after 5 minutes; %s", done, n, pending)
		}
		time.Sleep(time.Second)
	}
}

// clientFor is a plain client for seeding, outside any meter.
func clientFor(b *testing.B) client.Client {
	c, err := client.New(env.Cluster.Config, client.Options{})
	if err != nil {
		b.Fatal(err)
	}
	return c
}

// diagnose says where the fleet's pods are stuck.
func (fl *fleet) diagnose(ctx context.Context, pods *corev1.PodList) string {
	phases := map[string]int{}
	for i := range pods.Items {
		p := &pods.Items[i]
		k := string(p.Status.Phase)
		if p.Spec.NodeName == "" {
			k += " unscheduled"
		}
		phases[k]++
	}
	var deploys appsv1.DeploymentList
	_ = fl.c.List(ctx, &deploys)
	var rss appsv1.ReplicaSetList
	_ = fl.c.List(ctx, &rss)
	var node corev1.Node
	_ = fl.c.Get(ctx, client.ObjectKey{Name: "kwok-node-0"}, &node)
	return fmt.Sprintf("pods %v; %d Deployments, %d ReplicaSets; node allocatable pods %s", phases, len(deploys.Items), len(rss.Items), node.Status.Allocatable.Pods())
}

// holdFleet prints how to run meshops against the fleet and blocks until
// the process is interrupted, so the control plane stays up while someone
// profiles meshops against it by hand.
func holdFleet(repo, stateNamespace string) {
	progress("holding the fleet; interrupt to end:\n  meshops plan --repo-path %s --kubeconfig %s --state-namespace %s",
		repo, env.Cluster.Kubeconfig, stateNamespace)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	<-sig
	signal.Stop(sig)
}

// planByCLI runs the built meshops plan on repo, as a user would, and
// measures each run's peak RSS; and that of meshops version, the floor of
// any meshops process.
func planByCLI(repo, stateNamespace string) (*cliResult, error) {
	_, version, err := runMeshops("version")
	if err != nil {
		return nil, err
	}
	out := &cliResult{Samples: 3, VersionRSS: version.Peak}
	var walls []time.Duration
	for range out.Samples {
		wall, m, err := runMeshops("plan", "--repo-path", repo, "--kubeconfig", env.Cluster.Kubeconfig, "--state-namespace", stateNamespace)
		if err != nil {
			return nil, err
		}
		walls = append(walls, wall)
		if m.Peak > out.PeakRSS {
			out.PeakRSS, out.FileRSS = m.Peak, m.File
		}
	}
	slices.Sort(walls)
	out.Median = walls[len(walls)/2]
	return out, nil
}

// runMeshops runs the meshops binary and reads its peak RSS from
// /proc/<pid>/status every 2 ms while it runs. The kernel's own figure,
// rusage's maxrss, is no use here: a child exec'd from this process starts
// with this process's high-water mark. VmHWM only grows, so the last read
// misses at most the growth of the last 2 ms; reads before the exec (the
// child still shares this process's memory) are skipped by name.
func runMeshops(args ...string) (time.Duration, rss, error) {
	cmd := exec.Command(*meshopsBin, args...)
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = io.Discard, &stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, rss{}, err
	}
	var (
		m    rss
		done = make(chan struct{})
		wg   sync.WaitGroup
	)
	status := filepath.Join("/proc", strconv.Itoa(cmd.Process.Pid), "status")
	name := filepath.Base(*meshopsBin)
	wg.Go(func() {
		t := time.NewTicker(2 * time.Millisecond)
		defer t.Stop()
		for {
			if got, ok := readRSS(status, name); ok && got.Peak > m.Peak {
				m = got
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	})
	err := cmd.Wait()
	wall := time.Since(start)
	close(done)
	wg.Wait()
	var exit *exec.ExitError
	// plan exits 2 when changes are pending: this fleet's upgrade.
	if errors.As(err, &exit) && exit.ExitCode() == 2 {
		err = nil
	}
	if err != nil {
		return 0, rss{}, fmt.Errorf("meshops %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	if m.Peak == 0 {
		return 0, rss{}, fmt.Errorf("meshops %s ended before its memory could be read", args[0])
	}
	return wall, m, nil
}

// readRSS is readStatus's rss, if the process is named name (comm: at
// most 15 characters).
func readRSS(path, name string) (rss, bool) {
	comm, m, err := readStatus(path)
	if err != nil || comm != name[:min(len(name), 15)] {
		return rss{}, false
	}
	return m, true
}

func TestReadRSSTakesOnlyTheNamedProcess(t *testing.T) {
	path := filepath.Join(t.TempDir(), "status")
	status := "Name:\t%s\nVmPeak:\t  900000 kB\nVmHWM:\t  153600 kB\nVmRSS:\t  100000 kB\nRssAnon:\t   90000 kB\nRssFile:\t   61440 kB\n"
	for _, tc := range []struct {
		comm string
		want rss
		ok   bool
	}{
		{"meshops", rss{Peak: 150 << 20, File: 60 << 20}, true},
		// Before the exec, the child is still this process.
		{"bench.test", rss{}, false},
	} {
		if err := os.WriteFile(path, fmt.Appendf(nil, status, tc.comm), 0o644); err != nil {
			t.Fatal(err)
		}
		got, ok := readRSS(path, "meshops")
		if ok != tc.ok || (ok && got != tc.want) {
			t.Errorf("%s: readRSS = %+v, %v; want %+v, %v", tc.comm, got, ok, tc.want, tc.ok)
		}
	}
}
