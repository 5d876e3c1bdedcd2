package aks_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/fluxcd/cli-utils/pkg/kstatus/polling"
	"github.com/fluxcd/pkg/ssa"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/meshops/meshops/apply"
	"github.com/meshops/meshops/configs"
	"github.com/meshops/meshops/mesh"
	"github.com/meshops/meshops/plan"
	"github.com/meshops/meshops/revisions/aks"
	"github.com/meshops/meshops/state"
	"github.com/meshops/meshops/sync/reconcile"
	"github.com/meshops/meshops/test/armemu"
	"github.com/meshops/meshops/test/armemu/armclient"
	"github.com/meshops/meshops/test/controlplane"
	"github.com/meshops/meshops/test/e2e"
	"github.com/meshops/meshops/test/kubetest"
)

var allRevisions = []string{"asm-1-27", "asm-1-28", "asm-1-29", "asm-1-30"}

// emulated starts an ARM emulator over the shared control plane with
// exactly installed running (installing and removing revisions as the
// tests before left them), and points meshops' aks provider at it through
// the environment, as `source .dev/azure.env` does.
func emulated(t *testing.T, installed ...string) *armemu.Server {
	t.Helper()
	ctx := context.Background()
	for _, rev := range allRevisions {
		_, running := env.Cluster.Istiod(rev)
		switch want := slices.Contains(installed, rev); {
		case want && !running:
			if err := env.Cluster.InstallRevision(ctx, rev); err != nil {
				t.Fatal(err)
			}
		case !want && running:
			if err := env.Cluster.RemoveRevision(ctx, rev); err != nil {
				t.Fatal(err)
			}
		}
	}
	opts := armemu.DefaultOptions()
	opts.Installed = installed
	opts.Mesh = env.Cluster
	opts.PollInterval = 200 * time.Millisecond
	srv, err := armemu.Start(opts, armemu.ServerOptions{CAFile: filepath.Join(t.TempDir(), "ca.crt")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	c := srv.Connection()
	for k, v := range map[string]string{
		"AZURE_SUBSCRIPTION_ID": c.SubscriptionID, "MESHOPS_AKS_RESOURCE_GROUP": c.ResourceGroup, "MESHOPS_AKS_CLUSTER": c.ClusterName,
		"MESHOPS_ARM_ENDPOINT": c.URL, "AZURE_TENANT_ID": c.TenantID, "AZURE_CLIENT_ID": c.ClientID,
		"AZURE_CLIENT_SECRET": c.ClientSecret, "AZURE_AUTHORITY_HOST": c.AuthorityHost(), "MESHOPS_ARM_CA_FILE": c.CAFile,
	} {
		t.Setenv(k, v)
	}
	return srv
}

// fixture is one test's mesh: its tag, namespaces, config repo and record.
type fixture struct {
	t          *testing.T
	tag, repo  string
	namespaces []string
	r          *reconcile.Reconciler
}

func newFixture(t *testing.T, namespaces int) *fixture {
	t.Helper()
	f := &fixture{t: t, tag: "aks-" + strings.TrimPrefix(kubetest.UniqueName(t), "test"), repo: t.TempDir()}
	f.tag = strings.TrimRight(f.tag[:min(len(f.tag), 40)], "-")
	for range namespaces {
		f.namespaces = append(f.namespaces, env.Namespace(t, nil))
	}
	cluster, store := env.Meshops(t)
	f.r = &reconcile.Reconciler{
		Source: reconcile.DirSource{Path: f.repo}, Cluster: cluster, Store: store,
		Options: reconcile.Options{Config: configs.DefaultOptions(),
			AKS:      aks.OptionsFromEnv(aks.Options{PollFrequency: 200 * time.Millisecond}),
			Executor: func(o *apply.Options) { o.PollInterval = 100 * time.Millisecond }},
	}
	t.Cleanup(func() {
		ctx := context.Background()
		_ = env.Clientset.AdmissionregistrationV1().MutatingWebhookConfigurations().Delete(ctx, mesh.TagWebhookName(f.tag, controlplane.IstioNamespace), metav1.DeleteOptions{})
		// Workloads left on a revision would hold it for the next test's
		// orphan guard: remove them and wait for their pods to go.
		for _, ns := range f.namespaces {
			_ = env.Clientset.AppsV1().Deployments(ns).DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{})
		}
		for _, ns := range f.namespaces {
			for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
				pods, err := env.Clientset.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
				if err == nil && len(pods.Items) == 0 {
					break
				}
			}
		}
	})
	return f
}

// write puts the config repo for versions (and targetVersion, when set)
// with the aks provider.
func (f *fixture) write(versions, target string) {
	f.t.Helper()
	files := e2e.RepoFiles(f.tag, "unused", f.namespaces)
	files["meshops.yaml"] += "  revisions:\n    provider: aks\n"
	values := fmt.Sprintf("defaults:\n  svc:\n    istio:\n      tag: %s\n      versions: %q\n", f.tag, versions)
	if target != "" {
		values += fmt.Sprintf("      targetVersion: %s\n", target)
	}
	files["config/config.yaml"] = values
	e2e.WriteFiles(f.t, f.repo, files)
}

// onAsm128 is the start of every test here: an AKS cluster on asm-1-28,
// and the test's config repo on it, synced.
func onAsm128(t *testing.T, namespaces int) (*armemu.Server, *fixture) {
	t.Helper()
	srv := emulated(t, "asm-1-28")
	f := newFixture(t, namespaces)
	f.write("asm-1-28", "")
	if _, err := f.sync("install on asm-1-28"); err != nil {
		t.Fatal(err)
	}
	return srv, f
}

func (f *fixture) deployments(n int, rev string) []string {
	f.t.Helper()
	var names []string
	for _, ns := range f.namespaces {
		for i := range n {
			name := fmt.Sprintf("app-%d", i)
			env.CreateDeployment(f.t, ns, name, e2e.DeploymentOptions{Replicas: 1})
			names = append(names, ns+"/"+name)
		}
	}
	f.wait(names, rev)
	return names
}

// wait waits until every workload rolled out with all pods on rev.
func (f *fixture) wait(names []string, rev string) {
	f.t.Helper()
	ctx := context.Background()
	for _, id := range names {
		ns, name, _ := strings.Cut(id, "/")
		if err := env.WaitOnRevision(ctx, ns, name, rev, time.Minute); err != nil {
			f.t.Fatal(err)
		}
	}
}

func (f *fixture) sync(reason string) (*reconcile.Outcome, error) {
	f.t.Helper()
	return f.r.Reconcile(context.Background(), reason)
}

func puts(srv *armemu.Server) int {
	n := 0
	for _, r := range srv.Requests() {
		if r.Method == http.MethodPut {
			n++
		}
	}
	return n
}

func gone(t *testing.T, rev string) {
	t.Helper()
	_, err := env.Clientset.AppsV1().Deployments(controlplane.IstioNamespace).Get(context.Background(), mesh.IstiodName(rev), metav1.GetOptions{})
	if !apierrors.IsNotFound(err) || env.Cluster.Running("istiod-"+rev) {
		t.Errorf("revision %s still installed (Deployment: %v, process running: %v)", rev, err, env.Cluster.Running("istiod-"+rev))
	}
}

// ARO HCP's single-revision form: versions "asm-1-28" becomes "asm-1-29".
// meshops starts the canary through ARM, moves the tag and every workload,
// verifies, completes the canary (asm-1-28 is gone), and a second sync has
// nothing to do.
func TestASingleRevisionChangeUpgradesThroughARMAndCompletesTheCanary(t *testing.T) {
	srv, f := onAsm128(t, 2)
	names := f.deployments(2, "asm-1-28")

	f.write("asm-1-29", "")
	start := time.Now()
	out, err := f.sync("versions: asm-1-29")
	if err != nil {
		t.Fatalf("upgrade: %v", err)
	}
	t.Logf("upgrade through ARM (canary start, %d restarts, verify, complete) in %s", out.Applied.Restarted, time.Since(start).Round(100*time.Millisecond))
	if out.Plan.Scenario != plan.ScenarioUpgrade || out.Applied.Restarted != len(names) {
		t.Errorf("scenario %s, %d restarted; want an upgrade restarting %d", out.Plan.Scenario, out.Applied.Restarted, len(names))
	}
	f.wait(names, "asm-1-29")
	if got := env.TagRevision(context.Background(), f.tag); got != "asm-1-29" {
		t.Errorf("tag on %s, want asm-1-29", got)
	}
	if got := srv.Installed(); !slices.Equal(got, []string{"asm-1-29"}) {
		t.Errorf("ARM revisions %v after the upgrade, want [asm-1-29]: the canary was not completed", got)
	}
	gone(t, "asm-1-28")
	if n := puts(srv); n != 2 {
		t.Errorf("%d PUTs, want 2 (canary start, complete)", n)
	}

	out, err = f.sync("again")
	if err != nil || out.Decision != reconcile.DecisionNothingToDo {
		t.Errorf("second sync: decision %q, %v; want nothing to do", out.Decision, err)
	}
	if n := puts(srv); n != 2 {
		t.Errorf("the second sync sent a PUT (%d in all)", n)
	}
}

// The list form keeps every listed revision: the canary starts, workloads
// move to targetVersion, and nothing is removed.
func TestTheListFormStartsTheCanaryAndKeepsBothRevisions(t *testing.T) {
	srv, f := onAsm128(t, 1)
	names := f.deployments(1, "asm-1-28")
	f.write("asm-1-28,asm-1-29", "asm-1-29")
	out, err := f.sync("list form")
	if err != nil {
		t.Fatalf("upgrade: %v", err)
	}
	f.wait(names, "asm-1-29")
	if got := srv.Installed(); !slices.Equal(got, []string{"asm-1-28", "asm-1-29"}) {
		t.Errorf("ARM revisions %v, want both listed kept", got)
	}
	if slices.ContainsFunc(out.Plan.Steps, func(s plan.Step) bool { return s.Op == plan.OpCompleteRevisions }) {
		t.Error("the list form planned a complete")
	}
	if out, err = f.sync("again"); err != nil || out.Decision != reconcile.DecisionNothingToDo {
		t.Errorf("second sync: decision %q, %v; want nothing to do", out.Decision, err)
	}
}

// A target ARM does not list as an upgrade blocks the plan, naming what is
// available; nothing is sent.
func TestATargetThatIsNoAvailableUpgradeBlocksNamingTheAvailableOnes(t *testing.T) {
	srv, f := onAsm128(t, 1)
	f.write("asm-1-31", "")
	out, err := f.sync("n+3")
	var blocked *apply.BlockedError
	if !errors.As(err, &blocked) || out.Plan.Scenario != plan.ScenarioRevisionsBlocked ||
		!strings.Contains(out.Plan.Reason, "asm-1-29") || !strings.Contains(out.Plan.Reason, "asm-1-30") {
		t.Fatalf("plan %s (%s), %v; want blocked naming asm-1-29 and asm-1-30", out.Plan.Scenario, out.Plan.Reason, err)
	}
	if n := puts(srv); n != 0 {
		t.Errorf("%d PUTs for a blocked plan", n)
	}
}

// A canary whose ARM operation ends Failed fails the rollout before the tag
// moves, naming ARM's error; the next plan says the cluster is failed.
func TestAFailedARMOperationStopsBeforeTheTagMovesAndBlocksTheNextPlan(t *testing.T) {
	srv, f := onAsm128(t, 1)
	srv.FailNextOperation(armemu.OperationFault{Code: "UpgradeFailed", Message: "the add-on could not start asm-1-29"})
	f.write("asm-1-29", "")
	_, err := f.sync("failing canary")
	if err == nil || !strings.Contains(err.Error(), "UpgradeFailed") {
		t.Fatalf("sync with a failed ARM operation: %v; want the ARM error code", err)
	}
	if got := env.TagRevision(context.Background(), f.tag); got != "asm-1-28" {
		t.Errorf("tag on %s after a failed canary start, want asm-1-28", got)
	}
	out, err := f.sync("after the failure")
	if err == nil || !out.Plan.Blocked {
		t.Errorf("plan after a failed operation: %s blocked %v (%s), %v; want blocked", out.Plan.Scenario, out.Plan.Blocked, out.Plan.Reason, err)
	}
}

// A run that dies while it waits for the canary's ARM operation leaves the
// operation in its record; the next run follows that operation to its end
// and never sends the canary again.
func TestARunThatDiesDuringTheARMWaitIsResumedWithoutASecondPUT(t *testing.T) {
	srv, f := onAsm128(t, 1)
	srv.SetLatency(armemu.OpCanary, 4*time.Second)
	names := f.deployments(1, "asm-1-28")
	f.write("asm-1-29", "")
	ctx, kill := context.WithCancel(context.Background())
	go func() {
		for puts(srv) == 0 {
			time.Sleep(50 * time.Millisecond)
		}
		time.Sleep(500 * time.Millisecond)
		kill()
	}()
	if _, err := f.r.Reconcile(ctx, "killed while waiting"); err == nil {
		t.Fatal("the killed run finished")
	}
	rec, err := f.r.Store.Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if rec.Revisions == nil || rec.Revisions.Operation == nil || rec.Revisions.Operation.ResumeToken == "" {
		t.Fatalf("the record does not hold the running operation: %+v", rec.Revisions)
	}
	out, err := f.sync("resume")
	if err != nil {
		t.Fatalf("resumed run: %v", err)
	}
	f.wait(names, "asm-1-29")
	var canaries int
	for _, r := range srv.Requests() {
		if r.Method == http.MethodPut {
			canaries++
		}
	}
	if canaries != 2 || !slices.Equal(srv.Installed(), []string{"asm-1-29"}) {
		t.Errorf("%d PUTs (want the canary once and the complete), revisions %v; resumed plan %s", canaries, srv.Installed(), out.Plan.Scenario)
	}
}

// A workload that fails on the canary: the tag and the moved workloads go
// back, the canary is rolled back through ARM, and the next plan is blocked
// as a bad revision.
func TestAWorkloadFailingOnTheCanaryRollsBackTheTagTheWorkloadsAndTheCanary(t *testing.T) {
	srv, f := onAsm128(t, 1)
	names := f.deployments(2, "asm-1-28")
	broken := f.namespaces[0]
	// app-1 never turns ready on asm-1-29.
	c := interceptor.NewClient(f.r.Cluster.Client.(client.WithWatch), e2e.BreakOnRevision(broken, "app-1", "asm-1-29"))
	f.r.Cluster.Client = c
	f.r.Cluster.RM = ssa.NewResourceManager(c, polling.NewStatusPoller(c, c.RESTMapper(), polling.Options{}), ssa.Owner{Field: reconcile.FieldManager, Group: "meshops.io"})
	var canaryBack []apply.Event
	f.r.Options.Executor = func(o *apply.Options) {
		o.PollInterval = 100 * time.Millisecond
		o.Restart.BatchSize = 1
		o.Restart.WorkloadTimeout = 5 * time.Second
		o.Progress = func(ev apply.Event) {
			if ev.Status == apply.StepRollback && ev.Step.Op == plan.OpSetRevisions {
				canaryBack = append(canaryBack, ev)
			}
		}
	}

	f.write("asm-1-29", "")
	out, err := f.sync("a release that breaks app-1")
	if err == nil || out.Result != state.ResultRolledBack || !strings.Contains(err.Error(), "canary rolled back") {
		t.Fatalf("result %s, %v; want rolled back, the canary too", out.Result, err)
	}
	// The canary's removal is reported as a rollback step, so sync's
	// progress and summary show it beside the tag and the workloads.
	if len(canaryBack) != 1 || !slices.Equal(canaryBack[0].Step.Revisions, []string{"asm-1-28"}) || canaryBack[0].Step.Target.Name == "" {
		t.Errorf("rollback events of the revisions: %+v; want one, back to [asm-1-28], naming the cluster", canaryBack)
	}
	t.Logf("rollback: %v", err)
	if got := env.TagRevision(context.Background(), f.tag); got != "asm-1-28" {
		t.Errorf("tag on %s after the rollback, want asm-1-28", got)
	}
	f.wait(names, "asm-1-28")
	if got := srv.Installed(); !slices.Equal(got, []string{"asm-1-28"}) {
		t.Errorf("ARM revisions %v after the rollback, want [asm-1-28]", got)
	}
	gone(t, "asm-1-29")
	out, err = f.sync("after the rollback")
	var blocked *apply.BlockedError
	if !errors.As(err, &blocked) || out.Plan.Scenario != plan.ScenarioBadRevision {
		t.Errorf("plan after the rollback: %s (%s), %v; want blocked as a bad revision", out.Plan.Scenario, out.Plan.Reason, err)
	}
}

// Someone else's operation on the cluster (a canary started by hand): the
// plan waits and says so, sends nothing, and once the operation is over
// the next run goes on from what it left.
func TestAnotherOperationOnTheClusterIsWaitedForNotRaced(t *testing.T) {
	srv, f := onAsm128(t, 1)
	names := f.deployments(1, "asm-1-28")
	srv.SetLatency(armemu.OpCanary, 3*time.Second)
	mc, err := armclient.ManagedClusters(srv.Connection(), nil)
	if err != nil {
		t.Fatal(err)
	}
	poller, err := armclient.BeginSetRevisions(context.Background(), mc, srv.Connection(), []string{"asm-1-28", "asm-1-29"})
	if err != nil {
		t.Fatal(err)
	}
	before := puts(srv)

	f.write("asm-1-29", "")
	out, err := f.sync("while someone else's canary runs")
	var blocked *apply.BlockedError
	if !errors.As(err, &blocked) || out.Plan.Scenario != plan.ScenarioRevisionsBusy {
		t.Fatalf("plan during another operation: %s (%s), %v; want it to wait (revisions busy)", out.Plan.Scenario, out.Plan.Reason, err)
	}
	if puts(srv) != before {
		t.Error("meshops sent a PUT while another operation ran")
	}
	if _, err := poller.PollUntilDone(context.Background(), &runtime.PollUntilDoneOptions{Frequency: 200 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.sync("after it"); err != nil {
		t.Fatalf("the run after the other operation: %v", err)
	}
	f.wait(names, "asm-1-29")
	if got := srv.Installed(); !slices.Equal(got, []string{"asm-1-29"}) {
		t.Errorf("ARM revisions %v, want [asm-1-29] (the canary it found, completed)", got)
	}
}
