package reconcile_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fluxcd/pkg/gittestserver"
	"github.com/go-git/go-git/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/meshops/meshops/apply"
	"github.com/meshops/meshops/configs"
	"github.com/meshops/meshops/mesh"
	"github.com/meshops/meshops/sync/gitsource"
	"github.com/meshops/meshops/sync/reconcile"
	"github.com/meshops/meshops/test/controlplane"
	"github.com/meshops/meshops/test/gitrepo"
	"github.com/meshops/meshops/test/kubetest"
)

// While the git server is down meshops keeps enforcing the last commit it
// fetched: a hand edit is repaired, and the git error is reported in the
// record and the metrics, then cleared once git answers again.
func TestAHandEditIsRepairedWhileTheGitServerIsDown(t *testing.T) {
	ctx := context.Background()
	ns := env.Namespace(t, nil)
	tag := "gitdown-" + strings.TrimPrefix(kubetest.UniqueName(t), "test")
	tag = strings.TrimRight(tag[:min(len(tag), 40)], "-")
	t.Cleanup(func() {
		_ = env.Clientset.AdmissionregistrationV1().MutatingWebhookConfigurations().Delete(context.Background(), mesh.TagWebhookName(tag, controlplane.IstioNamespace), metav1.DeleteOptions{})
	})
	repo := gitrepo.New(t)
	c1 := commit(repo, tag, ns, "asm-1-28", "install on asm-1-28")

	srv := gittestserver.NewGitServer(t.TempDir())
	if err := srv.StartHTTP(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.StopHTTP)
	if _, err := git.PlainClone(filepath.Join(srv.Root(), "config.git"), true, &git.CloneOptions{URL: repo.Dir}); err != nil {
		t.Fatal(err)
	}
	opts := gitsource.DefaultOptions()
	// gitrepo commits on go-git's default branch, master.
	opts.URL, opts.Branch, opts.CacheDir, opts.Timeout = srv.HTTPAddress()+"/config.git", "master", t.TempDir(), 5*time.Second
	src, err := gitsource.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	cluster, store := env.Meshops(t)
	metrics := reconcile.NewMetrics(prometheus.NewRegistry())
	r := &reconcile.Reconciler{
		Source: reconcile.GitSource{Source: src}, Cluster: cluster, Store: store,
		Options: reconcile.Options{Config: configs.DefaultOptions(), Metrics: metrics,
			Executor: func(o *apply.Options) { o.PollInterval = 100 * time.Millisecond }},
	}
	if _, err := r.Reconcile(ctx, "start"); err != nil {
		t.Fatal(err)
	}

	srv.StopHTTP()
	patch := []byte(`{"spec":{"action":"AUDIT"}}`)
	if err := cluster.Client.Patch(ctx, policy(ns, "allow-nothing"), client.RawPatch("application/merge-patch+json", patch), client.FieldOwner("kubectl-edit")); err != nil {
		t.Fatal(err)
	}
	out, err := r.Reconcile(ctx, "drift check while git is down")
	if err != nil {
		t.Fatalf("reconcile with git down: %v", err)
	}
	if out.Commit != c1 || out.SourceError == nil || !out.Drift {
		t.Errorf("outcome: commit %s (want %s), source error %v, drift %v; want the last commit, the git error and the drift", out.Commit, c1, out.SourceError, out.Drift)
	}
	live := policy(ns, "allow-nothing")
	if err := cluster.Client.Get(ctx, client.ObjectKeyFromObject(live), live); err != nil {
		t.Fatal(err)
	}
	if spec, _ := live.Object["spec"].(map[string]any); len(spec) != 0 {
		t.Errorf("hand edit not repaired while git is down: spec %v", spec)
	}
	rec, err := store.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rec.SourceError == "" || rec.SourceErrorSince.IsZero() || rec.LastAppliedCommit != c1 {
		t.Errorf("record %+v: want the git error reported and %s still applied", rec, c1)
	}
	if got := testutil.ToFloat64(metrics.GitFetchErrors); got != 1 {
		t.Errorf("git fetch errors = %v, want 1", got)
	}

	// The test server comes back on another port.
	if err := srv.StartHTTP(); err != nil {
		t.Fatal(err)
	}
	opts.URL = srv.HTTPAddress() + "/config.git"
	if src, err = gitsource.New(opts); err != nil {
		t.Fatal(err)
	}
	r.Source = reconcile.GitSource{Source: src}
	if _, err := r.Reconcile(ctx, "git is back"); err != nil {
		t.Fatal(err)
	}
	if rec, err := store.Load(ctx); err != nil || rec.SourceError != "" {
		t.Errorf("after git came back the record still says %q (%v)", rec.SourceError, err)
	}
}
