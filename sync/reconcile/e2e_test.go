package reconcile_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/tools/record"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/meshops/meshops/apply"
	"github.com/meshops/meshops/configs"
	"github.com/meshops/meshops/mesh"
	"github.com/meshops/meshops/state"
	"github.com/meshops/meshops/sync/reconcile"
	"github.com/meshops/meshops/test/controlplane"
	"github.com/meshops/meshops/test/e2e"
	"github.com/meshops/meshops/test/gitrepo"
	"github.com/meshops/meshops/test/kubetest"
)

var env *e2e.Env

func TestMain(m *testing.M) {
	e2e.Main(m, &env, controlplane.Options{PodStartDelay: 300 * time.Millisecond})
}

// commit writes the repo files for target into repo and commits them; it
// returns the short hash meshops records (reconcile.HeadCommit).
func commit(repo *gitrepo.Repo, tag, ns, target, msg string) string {
	repo.Write(e2e.RepoFiles(tag, target, []string{ns}))
	return repo.Commit(msg)[:12]
}

// The loop end to end on the real control plane: the first run installs
// the tag; a hand edit of a managed policy is drift, repaired by the next
// run and counted; a new commit (a merge) is rolled out on a trigger;
// while suspended, a new commit is only reported.
func TestLoopInstallsRepairsDriftRollsOutAMergeAndHonoursSuspend(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ns := env.Namespace(t, nil)
	tag := "loop-" + strings.TrimPrefix(kubetest.UniqueName(t), "test")
	tag = strings.TrimRight(tag[:min(len(tag), 40)], "-")
	t.Cleanup(func() {
		_ = env.Clientset.AdmissionregistrationV1().MutatingWebhookConfigurations().Delete(context.Background(), mesh.TagWebhookName(tag, controlplane.IstioNamespace), metav1.DeleteOptions{})
	})
	repo := gitrepo.New(t)
	c1 := commit(repo, tag, ns, "asm-1-28", "install on asm-1-28")

	cluster, store := env.Meshops(t)
	recorder := record.NewFakeRecorder(100)
	reg := prometheus.NewRegistry()
	metrics := reconcile.NewMetrics(reg)
	r := &reconcile.Reconciler{
		Source: reconcile.DirSource{Path: repo.Dir}, Cluster: cluster, Store: store,
		Options: reconcile.Options{Config: configs.DefaultOptions(), Metrics: metrics, Recorder: recorder,
			Executor: func(o *apply.Options) { o.PollInterval = 100 * time.Millisecond }},
	}
	done := make(chan string, 10)
	never, _ := reconcile.ParseSchedule("@every 1h")
	loop := reconcile.New(func(ctx context.Context, reason string) error {
		_, err := r.Reconcile(ctx, reason)
		done <- reason
		return err
	}, never)
	go func() { _ = loop.Run(ctx) }()
	wait := func(want string) *state.Record {
		t.Helper()
		select {
		case got := <-done:
			if got != want {
				t.Fatalf("reconcile triggered by %q, want %q", got, want)
			}
		case <-time.After(2 * time.Minute):
			t.Fatalf("no reconcile for %q", want)
		}
		rec, err := store.Load(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return rec
	}

	if rec := wait("start"); rec.LastAppliedCommit != c1 || rec.LastResult != state.ResultSucceeded {
		t.Fatalf("after the first run: %+v; want %s applied", rec, c1)
	}
	if got := tagRevision(t, tag); got != "asm-1-28" {
		t.Fatalf("tag on %q, want asm-1-28", got)
	}
	env.CreateDeployment(t, ns, "frontend", e2e.DeploymentOptions{Replicas: 2})
	if err := env.WaitRolledOut(ctx, ns, "frontend", time.Minute); err != nil {
		t.Fatal(err)
	}

	// Drift: someone opens the default deny by hand.
	patch := []byte(`{"spec":{"action":"AUDIT"}}`)
	if err := cluster.Client.Patch(ctx, policy(ns, "allow-nothing"), client.RawPatch("application/merge-patch+json", patch), client.FieldOwner("kubectl-edit")); err != nil {
		t.Fatal(err)
	}
	loop.Trigger("drift check")
	wait("drift check")
	if got := testutil.ToFloat64(metrics.DriftDetected); got != 1 {
		t.Errorf("drift detected %v times, want 1", got)
	}
	live := policy(ns, "allow-nothing")
	if err := cluster.Client.Get(ctx, client.ObjectKeyFromObject(live), live); err != nil {
		t.Fatal(err)
	}
	if spec, _ := live.Object["spec"].(map[string]any); len(spec) != 0 {
		t.Errorf("drift not repaired: spec %v", spec)
	}

	// A merge: target asm-1-29.
	c2 := commit(repo, tag, ns, "asm-1-29", "upgrade to asm-1-29")
	loop.Trigger("push")
	if rec := wait("push"); rec.LastAppliedCommit != c2 {
		t.Fatalf("after the push: last applied %s, want %s (%s)", rec.LastAppliedCommit, c2, rec.LastError)
	}
	if got := tagRevision(t, tag); got != "asm-1-29" {
		t.Errorf("tag on %q after the merge, want asm-1-29", got)
	}
	sidecars, err := env.Sidecars(ctx, ns, map[string]string{"app": "frontend"})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range sidecars {
		if s.Revision != "asm-1-29" {
			t.Errorf("pod %s on %s after the merge", s.Pod, s.Revision)
		}
	}
	if got := testutil.ToFloat64(metrics.Restarts.WithLabelValues("done")); got != 1 {
		t.Errorf("restarts done = %v, want 1", got)
	}
	var events []string
	for len(recorder.Events) > 0 {
		events = append(events, <-recorder.Events)
	}
	joined := strings.Join(events, "\n")
	for _, want := range []string{"Normal TagMoved meshops: tag " + tag + " on asm-1-29", "Normal Restarted meshops: on asm-1-29"} {
		if !strings.Contains(joined, want) {
			t.Errorf("events lack %q:\n%s", want, joined)
		}
	}

	// Suspended: a new commit is reported, not applied.
	if _, err := store.Update(ctx, func(rec *state.Record) { rec.Suspended = true }); err != nil {
		t.Fatal(err)
	}
	commit(repo, tag, ns, "asm-1-28", "roll back")
	loop.Trigger("push while suspended")
	if rec := wait("push while suspended"); rec.LastAppliedCommit != c2 {
		t.Errorf("suspended loop applied %s", rec.LastAppliedCommit)
	}
	if got := tagRevision(t, tag); got != "asm-1-29" {
		t.Errorf("suspended loop moved the tag to %s", got)
	}
	if got := testutil.ToFloat64(metrics.Suspended); got != 1 {
		t.Errorf("meshops_suspended = %v, want 1", got)
	}
	if n, err := testutil.GatherAndCount(reg, "meshops_reconcile_total", "meshops_tag_revision_info", "meshops_workloads", "meshops_plan_steps_pending"); err != nil || n == 0 {
		t.Errorf("metrics gathered: %d, %v", n, err)
	}
}

func policy(ns, name string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	u.SetAPIVersion("security.istio.io/v1")
	u.SetKind("AuthorizationPolicy")
	u.SetNamespace(ns)
	u.SetName(name)
	return u
}

func tagRevision(t *testing.T, tag string) string {
	t.Helper()
	return env.TagRevision(context.Background(), tag)
}
