package reconcile_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/meshops/meshops/apply"
	"github.com/meshops/meshops/configs"
	"github.com/meshops/meshops/mesh"
	"github.com/meshops/meshops/plan"
	"github.com/meshops/meshops/state"
	"github.com/meshops/meshops/sync/reconcile"
	"github.com/meshops/meshops/test/controlplane"
	"github.com/meshops/meshops/test/gitrepo"
	"github.com/meshops/meshops/test/kubetest"
)

// confirmCase is a fresh install of one namespace on asm-1-28, with a
// reconciler that asks confirm before executing.
func confirmCase(t *testing.T, confirm func(*plan.Plan) (bool, error)) (r *reconcile.Reconciler, ns, tag string, store *state.Store) {
	t.Helper()
	ns = env.Namespace(t, nil)
	tag = "confirm-" + strings.TrimPrefix(kubetest.UniqueName(t), "test")
	tag = strings.TrimRight(tag[:min(len(tag), 40)], "-")
	t.Cleanup(func() {
		_ = env.Clientset.AdmissionregistrationV1().MutatingWebhookConfigurations().Delete(context.Background(), mesh.TagWebhookName(tag, controlplane.IstioNamespace), metav1.DeleteOptions{})
	})
	repo := gitrepo.New(t)
	commit(repo, tag, ns, "asm-1-28", "install on asm-1-28")
	cluster, store := env.Meshops(t)
	r = &reconcile.Reconciler{
		Source: reconcile.DirSource{Path: repo.Dir}, Cluster: cluster, Store: store,
		Options: reconcile.Options{Config: configs.DefaultOptions(), Confirm: confirm,
			Lock:     state.LockOptions{Identity: "test reconciler"},
			Executor: func(o *apply.Options) { o.PollInterval = 100 * time.Millisecond }},
	}
	return r, ns, tag, store
}

// assertUntouched checks that nothing of the plan reached the cluster: no
// tag, no policy, no namespace label, no record.
func assertUntouched(t *testing.T, ns, tag string, store *state.Store) {
	t.Helper()
	ctx := context.Background()
	if rev := env.TagRevision(ctx, tag); rev != "" {
		t.Errorf("tag %s created on %s", tag, rev)
	}
	if err := store.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "allow-nothing"}, policy(ns, "allow-nothing")); !apierrors.IsNotFound(err) {
		t.Errorf("policy allow-nothing applied (get: %v)", err)
	}
	got, err := env.Clientset.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := got.Labels["istio.io/rev"]; ok && v != tag {
		t.Errorf("namespace labelled istio.io/rev=%s", v)
	}
	rec, err := store.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rec.LastResult != "" || !rec.LastRun.IsZero() || rec.Progress != nil {
		t.Errorf("the record was written: %+v", rec)
	}
}

// A person who answers no changes nothing: not the cluster, not the
// record; the reconcile says it was declined.
func TestADeclinedPlanChangesNothing(t *testing.T) {
	asked := 0
	r, ns, tag, store := confirmCase(t, func(p *plan.Plan) (bool, error) {
		asked++
		if !p.Pending() {
			t.Errorf("asked to confirm a plan with nothing to do")
		}
		return false, nil
	})
	out, err := r.Reconcile(context.Background(), "test: declined")
	if !errors.As(err, new(reconcile.DeclinedError)) || out.Decision != reconcile.DecisionDeclined {
		t.Fatalf("reconcile: %v, decision %q; want a DeclinedError", err, out.Decision)
	}
	if asked != 1 {
		t.Errorf("asked %d times, want once", asked)
	}
	assertUntouched(t, ns, tag, store)
}

// The question is asked without the writer lock (another meshops can take
// it meanwhile), and a plan still the same once the lock is held is
// applied as confirmed, printed once.
func TestConfirmIsAskedWithoutTheWriterLockAndTheConfirmedPlanIsApplied(t *testing.T) {
	ctx := context.Background()
	var store *state.Store
	r, _, tag, store := confirmCase(t, func(*plan.Plan) (bool, error) {
		held, err := store.Lock(ctx, state.LockOptions{Identity: "another meshops"})
		if err != nil {
			t.Errorf("the writer lock is held while asking: %v", err)
			return false, nil
		}
		return true, held.Release(ctx)
	})
	planned := 0
	r.Options.Planned = func(*plan.Plan, reconcile.Decision) { planned++ }
	out, err := r.Reconcile(ctx, "test: confirmed")
	if err != nil || out.Decision != reconcile.DecisionExecute {
		t.Fatalf("reconcile: %v, decision %q", err, out.Decision)
	}
	if planned != 1 {
		t.Errorf("the plan was shown %d times, want once", planned)
	}
	if rev := env.TagRevision(ctx, tag); rev != "asm-1-28" {
		t.Errorf("tag on %q, want asm-1-28", rev)
	}
}

// When the cluster changes between the question and the lock, the plan
// made under the lock is not the one confirmed: nothing is applied, and
// the error says to look at the new plan.
func TestAPlanThatChangedWhileWaitingForConfirmationIsNotApplied(t *testing.T) {
	ctx := context.Background()
	var ns, tag string
	r, ns, tag, store := confirmCase(t, func(*plan.Plan) (bool, error) {
		// Someone labels the namespace by hand meanwhile: the label step
		// is gone from the next plan.
		patch := []byte(`{"metadata":{"labels":{"istio.io/rev":"` + tag + `"}}}`)
		_, err := env.Clientset.CoreV1().Namespaces().Patch(ctx, ns, "application/merge-patch+json", patch, metav1.PatchOptions{})
		return true, err
	})
	_, err := r.Reconcile(ctx, "test: changed")
	var changed reconcile.PlanChangedError
	if !errors.As(err, &changed) || !strings.Contains(err.Error(), "run meshops sync again") {
		t.Fatalf("reconcile: %v; want a PlanChangedError", err)
	}
	assertUntouched(t, ns, tag, store)
}
