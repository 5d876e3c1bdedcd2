package bench

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/meshops/meshops/apply"
	"github.com/meshops/meshops/configs"
	"github.com/meshops/meshops/mesh"
	"github.com/meshops/meshops/plan"
	"github.com/meshops/meshops/state"
	"github.com/meshops/meshops/test/controlplane"
	"github.com/meshops/meshops/test/e2e"
)

const (
	fromRevision = "asm-1-28"
	toRevision   = "asm-1-29"
	// rowLabel on every pod of an upgrade row, for its pod watch.
	rowLabel = "meshops.bench/row"
	// upgradeNamespaceSize is how many Deployments share a namespace.
	upgradeNamespaceSize = 20
)

// upgradeSizes are the fleets upgraded; the script runs on the largest.
var upgradeSizes = []int{50, 200}

func minUpgradeWorkloads() int { return upgradeSizes[0] }
func maxUpgradeWorkloads() int { return upgradeSizes[len(upgradeSizes)-1] }

// upgradeFixture is one upgrade row's slice of the shared cluster: its own
// tag and namespaces, Deployments injected by asm-1-28 through the tag,
// and meshops' state after the fresh install that put them there.
type upgradeFixture struct {
	b          *testing.B
	id         string
	tag        string
	namespaces []string
	workloads  []string // namespace/name
	repo       string
	// batch is written to meshops.yaml with the namespace order; 0 leaves
	// out the restart section: the default restart policy.
	batch   int
	meter   meter
	cluster plan.Cluster
	store   *state.Store
}

// newUpgradeFixture creates n one-replica Deployments in namespaces of
// upgradeNamespaceSize, all on asm-1-28 through a tag meshops installed.
func newUpgradeFixture(b *testing.B, id string, n, batch int) *upgradeFixture {
	b.Helper()
	ctx := context.Background()
	f := &upgradeFixture{b: b, id: id, tag: "bench-" + id, repo: b.TempDir(), batch: batch}
	for i := range (n + upgradeNamespaceSize - 1) / upgradeNamespaceSize {
		ns := fmt.Sprintf("%s-%02d", id, i)
		if _, err := env.Clientset.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
			b.Fatal(err)
		}
		f.namespaces = append(f.namespaces, ns)
	}
	b.Cleanup(f.delete)
	f.cluster, f.store = env.MeshopsWith(b, f.meter.config(env.Cluster.Config))

	// Yesterday's state: a fresh install of the tag on asm-1-28 by meshops.
	f.writeRepo(fromRevision)
	if p, res, err := f.sync(ctx, "c0"); err != nil || p.Scenario != plan.ScenarioFreshInstall || !res.TagMoved {
		b.Fatalf("fresh install on %s: plan %s, result %+v, error %v", fromRevision, p.Scenario, res, err)
	}
	for i := range n {
		ns, name := f.namespaces[i/upgradeNamespaceSize], fmt.Sprintf("app-%02d", i%upgradeNamespaceSize)
		env.CreateDeployment(b, ns, name, e2e.DeploymentOptions{Replicas: 1, Labels: map[string]string{rowLabel: id}})
		f.workloads = append(f.workloads, ns+"/"+name)
	}
	for _, w := range f.workloads {
		ns, name, _ := strings.Cut(w, "/")
		if err := env.WaitRolledOut(ctx, ns, name, 3*time.Minute); err != nil {
			b.Fatal(err)
		}
	}
	if off := f.offRevision(fromRevision); len(off) > 0 {
		b.Fatalf("before the upgrade, pods not on %s: %v", fromRevision, off)
	}
	return f
}

// delete removes the row's namespaces and tag; the next row waits until
// the namespaces are gone before it measures.
func (f *upgradeFixture) delete() {
	ctx := context.Background()
	for _, ns := range f.namespaces {
		_ = env.Clientset.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{})
	}
	_ = env.Clientset.AdmissionregistrationV1().MutatingWebhookConfigurations().Delete(ctx, mesh.TagWebhookName(f.tag, controlplane.IstioNamespace), metav1.DeleteOptions{})
	_ = env.Clientset.CoreV1().Services(controlplane.IstioNamespace).Delete(ctx, mesh.TagServiceName(f.tag), metav1.DeleteOptions{})
}

// writeRepo writes the row's config repo: its namespaces on its tag, each
// with a default deny, and target as targetVersion.
func (f *upgradeFixture) writeRepo(target string) {
	f.b.Helper()
	restart := ""
	if f.batch > 0 {
		restart = fmt.Sprintf("  restart: {batchSize: %d, namespaceOrder: [%s]}\n", f.batch, strings.Join(f.namespaces, ", "))
	}
	var manifests strings.Builder
	for _, ns := range f.namespaces {
		fmt.Fprintf(&manifests, "---\napiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: allow-nothing, namespace: %s}\nspec: {}\n", ns)
	}
	e2e.WriteFiles(f.b, f.repo, map[string]string{
		"meshops.yaml": fmt.Sprintf("meshops:\n  namespaces: [%s]\n%s  autoRollback: true\n",
			strings.Join(f.namespaces, ", "), restart),
		"config/config.yaml": repoValues(f.tag, target),
		"mesh/policies.yaml": manifests.String(),
	})
}

// sync is what `meshops sync` does: load the repo, plan, execute.
func (f *upgradeFixture) sync(ctx context.Context, commit string) (*plan.Plan, *apply.Result, error) {
	cfg, err := loadRepo(f.repo)
	if err != nil {
		return &plan.Plan{}, nil, err
	}
	rec, err := f.store.Load(ctx)
	if err != nil {
		return &plan.Plan{}, nil, err
	}
	p, err := plan.Compute(ctx, f.cluster, cfg, plan.ComputeOptions{Commit: commit, Record: rec})
	if err != nil {
		return &plan.Plan{}, nil, err
	}
	ex := &apply.Executor{Cluster: f.cluster, Store: f.store, Options: apply.NewOptions(cfg)}
	res, err := ex.Execute(ctx, p, cfg)
	return p, res, err
}

// offRevision lists the row's Deployments with a live pod not on rev.
func (f *upgradeFixture) offRevision(rev string) []string {
	f.b.Helper()
	var off []string
	for _, ns := range f.namespaces {
		pods, err := env.Clientset.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{LabelSelector: rowLabel + "=" + f.id})
		if err != nil {
			f.b.Fatal(err)
		}
		for i := range pods.Items {
			p := &pods.Items[i]
			if p.DeletionTimestamp == nil && mesh.SidecarOf(p).Revision != rev {
				off = append(off, fmt.Sprintf("%s/%s on %q", ns, p.Name, mesh.SidecarOf(p).Revision))
			}
		}
	}
	return off
}

// measure runs upgrade between a pod and Deployment observer's start and
// stop, the benchmark timer running only around it, and fills in what the
// observer saw.
func (f *upgradeFixture) measure(row string, batch int, upgrade func(ctx context.Context) (requests int64, restarted int, err error)) upgradeResult {
	b := f.b
	ctx := context.Background()
	waitQuiet(b)
	obs, err := observe(ctx, f.namespaces, rowLabel+"="+f.id)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(obs.stop)
	progress("%s: %d workloads, measuring", row, len(f.workloads))
	stopProfile := profile(b, row)
	b.ResetTimer()
	b.StartTimer()
	start := time.Now()
	requests, restarted, err := upgrade(ctx)
	end := time.Now()
	b.StopTimer()
	stopProfile()
	if err != nil {
		b.Fatalf("%s: %v", row, err)
	}
	// Untimed: what the tool left rolling when it returned.
	obs.waitRolled(5 * time.Minute)
	tl, err := obs.stopAndSum(start, end, batch)
	if err != nil {
		b.Fatalf("%s: %v", row, err)
	}
	wall := end.Sub(start)
	if off := f.offRevision(toRevision); len(off) > 0 {
		results.note("%s: after the run, %d pods were not on %s: %s", row, len(off), toRevision, strings.Join(off, ", "))
	}
	progress("%s: %s", row, secs(wall))
	return upgradeResult{Workloads: len(f.workloads), Wall: wall, Requests: requests, Restarted: restarted, Timeline: tl}
}

// benchMeshopsUpgrade is `meshops sync` after targetVersion moved to
// asm-1-29: plan, gate, tag flip, restarts, verify. Batch 0 leaves the
// restart policy to its defaults; a batch above 0 sets restart.batchSize.
func benchMeshopsUpgrade(b *testing.B, n, batch int) {
	b.StopTimer()
	id := fmt.Sprintf("u%db%d", n, batch)
	f := newUpgradeFixture(b, id, n, batch)
	f.writeRepo(toRevision)
	r := f.measure(b.Name(), batch, func(ctx context.Context) (int64, int, error) {
		f.meter.reset()
		before := f.meter.count()
		p, res, err := f.sync(ctx, "c1")
		if err != nil {
			return 0, 0, err
		}
		if p.Scenario != plan.ScenarioUpgrade || !res.TagMoved || res.Restarted != n {
			return 0, 0, fmt.Errorf("plan %s, result %+v: want an upgrade that moved the tag and restarted %d", p.Scenario, res, n)
		}
		return f.meter.count() - before, res.Restarted, nil
	})
	r.Batch = batch
	results.addUpgrade(r)
	results.note("Requests of %s: %s.", b.Name(), f.meter.breakdown())
	b.ReportMetric(float64(r.Requests), "requests/op")
	if batch == 1 {
		b.ReportMetric(r.overhead().Seconds()*1000/float64(n), "overhead-ms/workload")
	}
}

// kubectlRequest matches one API request in kubectl's -v=6 log.
var kubectlRequest = regexp.MustCompile(`\] (GET|POST|PUT|PATCH|DELETE) https?://`)

// benchScriptUpgrade is the shell script meshops replaces: move the tag,
// then for each namespace on it, for each Deployment, `kubectl rollout
// restart` and `kubectl rollout status`, one after another.
func benchScriptUpgrade(b *testing.B, n int) {
	b.StopTimer()
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		b.Skip("kubectl is not installed")
	}
	f := newUpgradeFixture(b, fmt.Sprintf("s%d", n), n, 0)
	cacheDir := b.TempDir()
	run := func(ctx context.Context, args ...string) (string, int64, error) {
		args = append([]string{"--kubeconfig", env.Cluster.Kubeconfig, "--cache-dir", cacheDir, "-v=6"}, args...)
		var stdout, stderr bytes.Buffer
		cmd := exec.CommandContext(ctx, kubectl, args...)
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		requests := int64(len(kubectlRequest.FindAllIndex(stderr.Bytes(), -1)))
		if err != nil {
			return "", requests, fmt.Errorf("kubectl %s: %w\n%s", strings.Join(args[5:], " "), err, lastLines(stderr.String(), 5))
		}
		return stdout.String(), requests, nil
	}
	r := f.measure(b.Name(), 1, func(ctx context.Context) (int64, int, error) {
		// istioctl tag set, as the harness writes it.
		if err := env.SetTagByHand(ctx, f.tag, toRevision); err != nil {
			return 0, 0, err
		}
		var requests int64
		restarted := 0
		for _, ns := range f.namespaces {
			out, req, err := run(ctx, "get", "deployments", "-n", ns, "-o", "name")
			requests += req
			if err != nil {
				return requests, restarted, err
			}
			for _, d := range strings.Fields(out) {
				_, req, err := run(ctx, "rollout", "restart", d, "-n", ns)
				requests += req
				if err != nil {
					return requests, restarted, err
				}
				_, req, err = run(ctx, "rollout", "status", d, "-n", ns, "--timeout=5m")
				requests += req
				if err != nil {
					return requests, restarted, err
				}
				restarted++
			}
		}
		return requests, restarted, nil
	})
	r.Script = true
	results.addUpgrade(r)
	b.ReportMetric(float64(r.Requests), "requests/op")
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(len(lines)-n, 0):], "\n")
}

// waitQuiet waits until no namespace is being deleted: an earlier row's
// cleanup must not compete with the one being measured.
func waitQuiet(b *testing.B) {
	b.Helper()
	deadline := time.Now().Add(5 * time.Minute)
	for {
		list, err := env.Clientset.CoreV1().Namespaces().List(context.Background(), metav1.ListOptions{})
		if err != nil {
			b.Fatal(err)
		}
		terminating := 0
		for _, ns := range list.Items {
			if ns.Status.Phase == corev1.NamespaceTerminating {
				terminating++
			}
		}
		if terminating == 0 {
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("%d namespaces still terminating after 5 minutes", terminating)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// repoValues is a config.yaml putting tag on target.
func repoValues(tag, target string) string {
	return fmt.Sprintf("defaults:\n  svc:\n    istio:\n      tag: %s\n      versions: \"%s,%s\"\n      targetVersion: %s\n",
		tag, fromRevision, toRevision, target)
}

func loadRepo(dir string) (*configs.Config, error) {
	opts := configs.DefaultOptions()
	opts.RepoPath = dir
	return configs.Load(context.Background(), opts)
}
