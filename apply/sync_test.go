package apply_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/meshops/meshops/apply"
	"github.com/meshops/meshops/mesh"
	"github.com/meshops/meshops/plan"
	"github.com/meshops/meshops/state"
	"github.com/meshops/meshops/test/controlplane"
	"github.com/meshops/meshops/test/e2e"
)

// An upgrade moves the tag and restarts every workload onto the target, in
// batches, each one checked on its real pods; a second sync is a no-op;
// and reverting targetVersion in git is a rollback by the same engine.
func TestUpgradeMovesEveryWorkloadThenSecondSyncIsANoopAndRevertRollsBack(t *testing.T) {
	ctx := context.Background()
	f := newMesh(t, 3)
	f.writeRepo("asm-1-29")
	f.onTag("asm-1-28")
	ids := f.deployments(2, "asm-1-28")

	p, res, err := f.sync(ctx, "c1", nil)
	if err != nil {
		t.Fatalf("sync: %v", err)
	}
	if p.Scenario != plan.ScenarioUpgrade || !res.TagMoved || res.Restarted != len(ids) || res.Applied != 2*len(f.namespaces) {
		t.Errorf("scenario %s, result %+v; want an upgrade that moved the tag, restarted %d and applied %d", p.Scenario, res, len(ids), 2*len(f.namespaces))
	}
	if got := f.tagRevision(); got != "asm-1-29" {
		t.Errorf("tag on %s, want asm-1-29", got)
	}
	f.checkTagAsBuilt("asm-1-29")
	f.waitRevision(ids, "asm-1-29")

	before := templates(t, ids)
	p, res, err = f.sync(ctx, "c1", nil)
	if err != nil || p.Pending() || p.Scenario != plan.ScenarioInSync || res.Restarted != 0 {
		t.Fatalf("second sync: scenario %s pending %v result %+v err %v; want in sync, nothing done", p.Scenario, p.Pending(), res, err)
	}
	if after := templates(t, ids); !equal(before, after) {
		t.Errorf("second sync touched workloads: %v → %v", before, after)
	}

	f.writeRepo("asm-1-28")
	p, res, err = f.sync(ctx, "c2", nil)
	if err != nil {
		t.Fatalf("revert sync: %v", err)
	}
	if p.Scenario != plan.ScenarioRollback || res.Restarted != len(ids) {
		t.Errorf("revert: scenario %s, result %+v; want a rollback restarting %d", p.Scenario, res, len(ids))
	}
	if got := f.tagRevision(); got != "asm-1-28" {
		t.Errorf("tag on %s after the revert, want asm-1-28", got)
	}
	f.waitRevision(ids, "asm-1-28")
}

// policies counts the AuthorizationPolicies in namespace.
func policies(t *testing.T, f *meshFixture, namespace string) int {
	t.Helper()
	var list metav1.PartialObjectMetadataList
	list.SetGroupVersionKind(schemaAuthorizationPolicyList)
	if err := f.cluster.Client.List(context.Background(), &list, client.InNamespace(namespace)); err != nil {
		t.Fatal(err)
	}
	return len(list.Items)
}

func equal(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// Nothing moves the tag or restarts a workload while the target is
// unhealthy: a plan made while it is unhealthy is blocked, and a plan made
// while healthy stops at the executor's own gate when the target fails in
// between. Neither applies a policy.
func TestNothingMovesWhileTheTargetIsUnhealthy(t *testing.T) {
	ctx := context.Background()
	f := newMesh(t, 1)
	f.writeRepo("asm-1-29")
	f.onTag("asm-1-28")
	ids := f.deployments(1, "asm-1-28")
	before := templates(t, ids)

	cfg := f.config()
	healthyPlan := f.plan(cfg, "c1")
	if healthyPlan.Blocked {
		t.Fatalf("plan blocked while the target is healthy: %s", healthyPlan.Reason)
	}
	if err := env.MakeRevisionUnhealthy(ctx, "asm-1-29"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { restoreRevision(t, "asm-1-29") })
	waitUnhealthy(t, f, cfg)

	_, _, err := f.sync(ctx, "c1", nil)
	var blocked *apply.BlockedError
	if !errors.As(err, &blocked) || blocked.Plan.Scenario != plan.ScenarioTargetUnhealthy {
		t.Fatalf("sync with an unhealthy target: %v; want blocked (target unhealthy)", err)
	}

	ex := &apply.Executor{Cluster: f.cluster, Store: f.store, Options: apply.NewOptions(cfg)}
	_, err = ex.Execute(ctx, healthyPlan, cfg)
	if err == nil || !strings.Contains(err.Error(), "not ready, nothing moved") {
		t.Fatalf("executing a plan made while healthy, after the target failed: %v; want the gate to stop it", err)
	}
	if got := f.tagRevision(); got != "asm-1-28" {
		t.Errorf("tag moved to %s while the target was unhealthy", got)
	}
	if after := templates(t, ids); !equal(before, after) {
		t.Errorf("workloads touched while the target was unhealthy: %v → %v", before, after)
	}
	if n := policies(t, f, f.namespaces[0]); n != 0 {
		t.Errorf("%d policies applied although the gate failed", n)
	}
	rec, err := f.store.Load(ctx)
	if err != nil || rec.LastResult != state.ResultFailed || !strings.Contains(rec.LastError, "not ready") {
		t.Errorf("record after the failed gate: %+v, %v", rec, err)
	}
}

// A field another manager owns is bad input: the run stops before changing
// anything, naming the object, its file, the manager and the field.
func TestFieldConflictStopsBeforeAnyChangeNamingManagerAndField(t *testing.T) {
	ctx := context.Background()
	f := newMesh(t, 2)
	f.writeRepo("asm-1-29")
	f.onTag("asm-1-28")
	ids := f.deployments(1, "asm-1-28")
	before := templates(t, ids)

	theirs := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "security.istio.io/v1", "kind": "AuthorizationPolicy",
		"metadata": map[string]any{"name": "allow-peer", "namespace": f.namespaces[1]},
		"spec":     map[string]any{"action": "DENY"},
	}}
	if err := f.cluster.Client.Patch(ctx, theirs, client.Apply, client.FieldOwner("platform-team")); err != nil {
		t.Fatal(err)
	}

	_, res, err := f.sync(ctx, "c1", nil)
	if err == nil {
		t.Fatal("sync succeeded over another manager's field")
	}
	for _, want := range []string{"AuthorizationPolicy/" + f.namespaces[1] + "/allow-peer", "mesh/policies.yaml", "platform-team", ".spec.action", "--force-conflicts"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not name %q:\n%v", want, err)
		}
	}
	if res.Applied != 0 || res.TagMoved || res.Restarted != 0 {
		t.Errorf("result %+v; want nothing done", res)
	}
	if got := f.tagRevision(); got != "asm-1-28" {
		t.Errorf("tag moved to %s", got)
	}
	if after := templates(t, ids); !equal(before, after) {
		t.Errorf("workloads touched: %v → %v", before, after)
	}
	if n := policies(t, f, f.namespaces[0]); n != 0 {
		t.Errorf("%d policies applied in %s before the conflict stopped the run", n, f.namespaces[0])
	}

	// Forcing takes the field, as the flag says.
	_, _, err = f.sync(ctx, "c1", func(o *apply.Options) { o.ForceConflicts = true })
	if err != nil {
		t.Fatalf("sync --force-conflicts: %v", err)
	}
}

// Objects meshops applied that leave git are deleted after everything
// else; an object of the same kind meshops never created stays, and so
// does one whose owner labels someone removed.
func TestPruneDeletesOnlyWhatMeshopsAppliedAndGitDropped(t *testing.T) {
	ctx := context.Background()
	f := newMesh(t, 1)
	ns := f.namespaces[0]
	extra := func(name string) string {
		return "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: " + name + ", namespace: " + ns + "}\nspec:\n  action: ALLOW\n  rules:\n  - from:\n    - source: {principals: [\"cluster.local/ns/" + ns + "/sa/" + name + "\"]}\n"
	}
	f.writeRepo("asm-1-29", extra("allow-old-client"), extra("allow-adopted"))
	f.onTag("asm-1-29")
	if _, _, err := f.sync(ctx, "c1", nil); err != nil {
		t.Fatal(err)
	}
	theirs := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "security.istio.io/v1", "kind": "AuthorizationPolicy",
		"metadata": map[string]any{"name": "allow-theirs", "namespace": ns},
		"spec":     map[string]any{"action": "ALLOW"},
	}}
	if err := f.cluster.Client.Create(ctx, theirs); err != nil {
		t.Fatal(err)
	}
	// Someone takes allow-adopted over: the owner labels go.
	adopted := policy(f, ns, "allow-adopted")
	adopted.SetLabels(nil)
	if err := f.cluster.Client.Update(ctx, adopted); err != nil {
		t.Fatal(err)
	}

	f.writeRepo("asm-1-29")
	p, res, err := f.sync(ctx, "c2", nil)
	if err != nil {
		t.Fatal(err)
	}
	last := p.Steps[len(p.Steps)-1]
	if last.Phase != plan.PhasePrune || res.Pruned != 1 {
		t.Errorf("last step %+v, pruned %d; want the prune steps last and exactly one delete", last, res.Pruned)
	}
	for name, want := range map[string]bool{"allow-old-client": false, "allow-adopted": true, "allow-theirs": true, "allow-nothing": true} {
		err := f.cluster.Client.Get(ctx, client.ObjectKeyFromObject(policy(f, ns, name)), policy(f, ns, name))
		if got := err == nil; got != want {
			t.Errorf("%s exists = %v (%v), want %v", name, got, err, want)
		}
	}
	rec, err := f.store.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(rec.Inventory); n != 2 {
		t.Errorf("inventory holds %d objects after the prune, want the 2 still in git", n)
	}
}

func policy(f *meshFixture, ns, name string) *unstructured.Unstructured {
	f.t.Helper()
	u := &unstructured.Unstructured{}
	u.SetAPIVersion("security.istio.io/v1")
	u.SetKind("AuthorizationPolicy")
	if err := f.cluster.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, u); err != nil {
		u.SetNamespace(ns)
		u.SetName(name)
	}
	return u
}

// With deleteBarePods, a bare pod on the old revision is deleted during the
// upgrade (nothing recreates it); without it, it stays and is a warning.
func TestUpgradeDeletesBarePodsOnlyWhenAllowed(t *testing.T) {
	ctx := context.Background()
	f := newMesh(t, 1)
	ns := f.namespaces[0]
	f.onTag("asm-1-28")
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "debug"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "debug", Image: "registry.example/debug:1"}}}}
	if _, err := env.Clientset.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, allow := range []bool{false, true} {
		files := e2e.RepoFiles(f.tag, "asm-1-29", f.namespaces)
		if allow {
			files["meshops.yaml"] = strings.Replace(files["meshops.yaml"], "namespaceOrder:", "deleteBarePods: true, namespaceOrder:", 1)
		}
		for name, content := range files {
			path := filepath.Join(f.repo, name)
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		p, _, err := f.sync(ctx, fmt.Sprintf("c-%v", allow), nil)
		if err != nil {
			t.Fatalf("deleteBarePods=%v: %v", allow, err)
		}
		_, getErr := env.Clientset.CoreV1().Pods(ns).Get(ctx, "debug", metav1.GetOptions{})
		gone := apierrors.IsNotFound(getErr)
		if gone != allow {
			t.Errorf("deleteBarePods=%v: bare pod gone=%v (warnings %v)", allow, gone, p.Warnings)
		}
		if !allow && (len(p.Warnings) != 1 || !strings.Contains(p.Warnings[0], "Pod/"+ns+"/debug")) {
			t.Errorf("warnings %v, want one for the bare pod", p.Warnings)
		}
	}
}

// Patch drift: the add-on patches istiod in place, so workloads on the
// target revision run an older proxy. The plan restarts them for the new
// image (scenario proxy patch) and the executor checks the image on the
// real pods; a second sync is a no-op.
func TestProxyPatchRestartsWorkloadsOntoTheNewProxyImage(t *testing.T) {
	ctx := context.Background()
	f := newMesh(t, 1)
	f.writeRepo("asm-1-29")
	f.onTag("asm-1-29")
	ids := f.deployments(1, "asm-1-29")
	if _, _, err := f.sync(ctx, "c1", nil); err != nil {
		t.Fatal(err)
	}
	if err := controlplane.SetProxyTag(ctx, env.Clientset, "asm-1-29", "1.29.9"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = controlplane.SetProxyTag(context.Background(), env.Clientset, "asm-1-29", env.Options.ProxyTag("asm-1-29"))
	})
	// istiod reloads its injection template from the ConfigMap: wait until
	// the planner sees the new image.
	var p *plan.Plan
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		if p = f.plan(f.config(), "c1"); p.Scenario == plan.ScenarioProxyPatch {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("scenario %s (%s), want proxy patch", p.Scenario, p.Reason)
		}
	}
	_, res, err := f.sync(ctx, "c1", nil)
	if err != nil || res.Restarted != len(ids) {
		t.Fatalf("proxy patch sync: %+v, %v", res, err)
	}
	parts := strings.Split(ids[0], "/")
	sidecars, err := env.Sidecars(ctx, parts[1], map[string]string{"app": parts[2]})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range sidecars {
		if mesh.ImageTag(s.Image) != "1.29.9" {
			t.Errorf("pod %s runs proxy %s after the patch restart, want 1.29.9", s.Pod, s.Image)
		}
	}
	if p, res, err := f.sync(ctx, "c1", nil); err != nil || p.Pending() || res.Restarted != 0 {
		t.Errorf("second sync: %s pending=%v %+v %v; want nothing", p.Scenario, p.Pending(), res, err)
	}
}
