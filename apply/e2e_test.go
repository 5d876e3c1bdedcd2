package apply_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fluxcd/cli-utils/pkg/kstatus/polling"
	"github.com/fluxcd/pkg/ssa"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/meshops/meshops/apply"
	"github.com/meshops/meshops/configs"
	"github.com/meshops/meshops/mesh"
	"github.com/meshops/meshops/plan"
	"github.com/meshops/meshops/retry"
	"github.com/meshops/meshops/state"
	"github.com/meshops/meshops/test/controlplane"
	"github.com/meshops/meshops/test/e2e"
	"github.com/meshops/meshops/test/kubetest"
)

var env *e2e.Env

func TestMain(m *testing.M) {
	e2e.Main(m, &env, controlplane.Options{PodStartDelay: 300 * time.Millisecond})
}

// mesh is one test's slice of the shared control plane: its own tag, its
// own namespaces and its own state record, so tests never see each other.
type meshFixture struct {
	t          *testing.T
	tag        string
	namespaces []string
	repo       string
	cluster    plan.Cluster
	store      *state.Store
}

func newMesh(t *testing.T, namespaces int) *meshFixture {
	t.Helper()
	f := &meshFixture{t: t, tag: "t-" + kubetest.UniqueName(t), repo: t.TempDir()}
	if len(f.tag) > 40 {
		f.tag = f.tag[:40]
	}
	f.tag = strings.TrimRight(f.tag, "-")
	for range namespaces {
		f.namespaces = append(f.namespaces, env.Namespace(t, nil))
	}
	f.cluster, f.store = env.Meshops(t)
	t.Cleanup(func() {
		ctx := context.Background()
		_ = env.Clientset.AdmissionregistrationV1().MutatingWebhookConfigurations().Delete(ctx, mesh.TagWebhookName(f.tag, controlplane.IstioNamespace), metav1.DeleteOptions{})
		_ = env.Clientset.CoreV1().Services(controlplane.IstioNamespace).Delete(ctx, mesh.TagServiceName(f.tag), metav1.DeleteOptions{})
	})
	return f
}

// writeRepo writes a config repo for the fixture: every namespace on the
// tag with a default deny and an ALLOW for its neighbour.
func (f *meshFixture) writeRepo(target string, extra ...string) {
	f.t.Helper()
	for name, content := range e2e.RepoFiles(f.tag, target, f.namespaces, extra...) {
		path := filepath.Join(f.repo, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			f.t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			f.t.Fatal(err)
		}
	}
}

// intercept routes the fixture's client, and the resource manager built on
// it, through funcs: the API server stays real, the test sees or amends
// each call.
func (f *meshFixture) intercept(funcs interceptor.Funcs) {
	f.t.Helper()
	base, err := client.NewWithWatch(env.Cluster.Config, client.Options{Scheme: f.cluster.Client.Scheme(), Mapper: f.cluster.Client.RESTMapper()})
	if err != nil {
		f.t.Fatal(err)
	}
	// Retried as reconcile.NewCluster retries: the interception sits on
	// top, where the executor's calls arrive.
	c := interceptor.NewClient(retry.Client(base, retry.DefaultOptions()), funcs)
	f.cluster.Client = c
	f.cluster.RM = ssa.NewResourceManager(c, polling.NewStatusPoller(c, c.RESTMapper(), polling.Options{}), ssa.Owner{Field: "meshops", Group: "meshops.io"})
}

func (f *meshFixture) config() *configs.Config {
	f.t.Helper()
	opts := configs.DefaultOptions()
	opts.RepoPath = f.repo
	cfg, err := configs.Load(context.Background(), opts)
	if err != nil {
		f.t.Fatalf("loading the test repo: %v", err)
	}
	return cfg
}

func (f *meshFixture) plan(cfg *configs.Config, commit string) *plan.Plan {
	f.t.Helper()
	rec, err := f.store.Load(context.Background())
	if err != nil {
		f.t.Fatal(err)
	}
	p, err := plan.Compute(context.Background(), f.cluster, cfg, plan.ComputeOptions{Commit: commit, Record: rec})
	if err != nil {
		f.t.Fatal(err)
	}
	return p
}

// sync plans and executes; opts may edit the executor's options.
func (f *meshFixture) sync(ctx context.Context, commit string, edit func(*apply.Options)) (*plan.Plan, *apply.Result, error) {
	f.t.Helper()
	cfg := f.config()
	p := f.plan(cfg, commit)
	opts := apply.NewOptions(cfg)
	opts.PollInterval = 100 * time.Millisecond
	if edit != nil {
		edit(&opts)
	}
	ex := &apply.Executor{Cluster: f.cluster, Store: f.store, Options: opts}
	res, err := ex.Execute(ctx, p, cfg)
	return p, res, err
}

// onTag labels the fixture's namespaces with its tag and points the tag at
// rev by hand, as a cluster first set up by istioctl would be.
func (f *meshFixture) onTag(rev string) {
	f.t.Helper()
	ctx := context.Background()
	if err := env.SetTagByHand(ctx, f.tag, rev); err != nil {
		f.t.Fatal(err)
	}
	for _, ns := range f.namespaces {
		patch := fmt.Sprintf(`{"metadata":{"labels":{"istio.io/rev":%q}}}`, f.tag)
		if _, err := env.Clientset.CoreV1().Namespaces().Patch(ctx, ns, "application/merge-patch+json", []byte(patch), metav1.PatchOptions{}); err != nil {
			f.t.Fatal(err)
		}
	}
}

// deployments creates n Deployments per namespace and waits until their
// pods run want.
func (f *meshFixture) deployments(n int, want string) []string {
	f.t.Helper()
	var ids []string
	for _, ns := range f.namespaces {
		for i := range n {
			name := fmt.Sprintf("app-%d", i)
			env.CreateDeployment(f.t, ns, name, e2e.DeploymentOptions{Replicas: 2})
			ids = append(ids, "Deployment/"+ns+"/"+name)
		}
	}
	f.waitRevision(ids, want)
	return ids
}

func (f *meshFixture) waitRevision(ids []string, want string) {
	f.t.Helper()
	ctx := context.Background()
	for _, id := range ids {
		parts := strings.Split(id, "/")
		if err := env.WaitOnRevision(ctx, parts[1], parts[2], want, 60*time.Second); err != nil {
			f.t.Fatal(err)
		}
	}
}

// revisions lists the distinct revisions the Deployment's live pods run.
func (f *meshFixture) revisions(ns, name string) []string {
	f.t.Helper()
	sidecars, err := env.Sidecars(context.Background(), ns, map[string]string{"app": name})
	if err != nil {
		f.t.Fatal(err)
	}
	var revs []string
	for _, s := range sidecars {
		if !slices.Contains(revs, s.Revision) {
			revs = append(revs, s.Revision)
		}
	}
	slices.Sort(revs)
	return revs
}

// replicaSets counts the ReplicaSets of a Deployment: one more per restart,
// so a double restart shows.
func replicaSets(t *testing.T, ns, name string) int {
	t.Helper()
	list, err := env.Clientset.AppsV1().ReplicaSets(ns).List(context.Background(), metav1.ListOptions{LabelSelector: "app=" + name})
	if err != nil {
		t.Fatal(err)
	}
	return len(list.Items)
}

func (f *meshFixture) tagRevision() string {
	f.t.Helper()
	return env.TagRevision(context.Background(), f.tag)
}

func templates(t *testing.T, ids []string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, id := range ids {
		parts := strings.Split(id, "/")
		d, err := env.Clientset.AppsV1().Deployments(parts[1]).Get(context.Background(), parts[2], metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		out[id] = d.Spec.Template.Annotations[apply.RestartedAtAnnotation] + "|" + d.ResourceVersion
	}
	return out
}

var schemaAuthorizationPolicyList = schema.GroupVersionKind{Group: "security.istio.io", Version: "v1", Kind: "AuthorizationPolicyList"}

// restoreRevision scales a revision's istiod back to one replica and waits
// for it, so the next test finds the control plane healthy.
func restoreRevision(t *testing.T, rev string) {
	t.Helper()
	ctx := context.Background()
	if _, err := env.Clientset.AppsV1().Deployments(controlplane.IstioNamespace).Patch(ctx, mesh.IstiodName(rev),
		"application/merge-patch+json", []byte(`{"spec":{"replicas":1}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := env.WaitRolledOut(ctx, controlplane.IstioNamespace, mesh.IstiodName(rev), 60*time.Second); err != nil {
		t.Fatal(err)
	}
}

// waitUnhealthy waits until the planner sees the target as unhealthy: the
// Deployment controller needs a moment to scale down.
func waitUnhealthy(t *testing.T, f *meshFixture, cfg *configs.Config) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if p := f.plan(cfg, "c1"); p.Blocked && p.Scenario == plan.ScenarioTargetUnhealthy {
			return
		}
	}
	t.Fatal("the target never looked unhealthy")
}

// checkTagAsBuilt compares the live tag webhook, first written by hand
// (another tool), with what mesh.TagWebhook builds for rev: after meshops
// moved it, every field meshops sets is as istioctl would write it, and no
// entry or label of the old writer is left (caBundle is istiod's).
func (f *meshFixture) checkTagAsBuilt(rev string) {
	f.t.Helper()
	ctx := context.Background()
	adm := env.Clientset.AdmissionregistrationV1().MutatingWebhookConfigurations()
	injector, err := adm.Get(ctx, mesh.InjectorWebhookName(rev, controlplane.IstioNamespace), metav1.GetOptions{})
	if err != nil {
		f.t.Fatal(err)
	}
	want, err := mesh.TagWebhook(injector, f.tag, rev, controlplane.IstioNamespace)
	if err != nil {
		f.t.Fatal(err)
	}
	live, err := adm.Get(ctx, want.Name, metav1.GetOptions{})
	if err != nil {
		f.t.Fatal(err)
	}
	for k, v := range want.Labels {
		if live.Labels[k] != v {
			f.t.Errorf("tag label %s = %q, want %q", k, live.Labels[k], v)
		}
	}
	if len(live.Webhooks) != len(want.Webhooks) {
		f.t.Fatalf("tag has %d webhook entries, want %d", len(live.Webhooks), len(want.Webhooks))
	}
	for i, w := range want.Webhooks {
		l := live.Webhooks[i]
		l.ClientConfig.CABundle, w.ClientConfig.CABundle = nil, nil
		if l.Name != w.Name || !reflect.DeepEqual(l.ClientConfig, w.ClientConfig) ||
			!reflect.DeepEqual(l.NamespaceSelector, w.NamespaceSelector) || !reflect.DeepEqual(l.ObjectSelector, w.ObjectSelector) {
			f.t.Errorf("tag webhook entry %d differs from what istioctl writes:\nlive %+v\nwant %+v", i, l, w)
		}
	}
}
