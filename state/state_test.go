package state_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/fluxcd/cli-utils/pkg/object"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/meshops/meshops/ref"
	"github.com/meshops/meshops/state"
	"github.com/meshops/meshops/test/kubetest"
)

var env *kubetest.Env

func TestMain(m *testing.M) { kubetest.Main(m, &env) }

func policyID(ns, name string) object.ObjMetadata {
	return object.ObjMetadata{Namespace: ns, Name: name, GroupKind: schema.GroupKind{Group: "security.istio.io", Kind: "AuthorizationPolicy"}}
}

// The record survives a round trip through the API server, the ConfigMap
// and its namespace are created on first use, and an inventory of 10,000
// policies stays far below a ConfigMap's 1 MiB limit.
func TestStoreCreatesRecordAndKeepsLargeInventoryCompressed(t *testing.T) {
	ctx := context.Background()
	store := &state.Store{Client: env.Client, Namespace: kubetest.UniqueName(t)}

	rec, err := store.Load(ctx)
	if err != nil || rec.LastAppliedCommit != "" || len(rec.Inventory) != 0 {
		t.Fatalf("load before any write = %+v, %v; want an empty record", rec, err)
	}
	var inv object.ObjMetadataSet
	for i := range 10000 {
		inv = append(inv, policyID(fmt.Sprintf("ns-%d", i%500), fmt.Sprintf("allow-workload-%d", i)))
	}
	when := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	if _, err := store.Update(ctx, func(r *state.Record) {
		r.LastAppliedCommit = "abc123"
		r.Inventory = inv
		r.BadRevisions = map[string]state.BadRevision{"asm-1-29": {Commit: "abc123", Error: "boom", Time: when}}
		r.Progress = &state.Progress{Commit: "abc123", Target: "asm-1-29", Step: 4, Restarted: []ref.Workload{{Kind: ref.Deployment, Namespace: "a", Name: "b"}}}
	}); err != nil {
		t.Fatal(err)
	}

	got, err := store.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got.LastAppliedCommit != "abc123" || len(got.Inventory) != len(inv) || !got.BadRevisions["asm-1-29"].Time.Equal(when) ||
		got.Progress == nil || got.Progress.Step != 4 || got.Progress.Restarted[0].String() != "Deployment/a/b" {
		t.Fatalf("round trip lost data: %+v", got)
	}
	if !object.ObjMetadataSet(got.Inventory).Equal(inv) {
		t.Error("inventory changed in the round trip")
	}
	var cm corev1.ConfigMap
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: store.Namespace, Name: state.DefaultName}, &cm); err != nil {
		t.Fatal(err)
	}
	size := len(cm.Data["record.json"]) + len(cm.BinaryData["inventory.gz"])
	if size > 256<<10 {
		t.Errorf("record with 10,000 inventory entries takes %d bytes, want well under the 1 MiB ConfigMap limit", size)
	}
}

// Two writers never lose each other's change: Update retries on conflict.
func TestStoreUpdateKeepsConcurrentChanges(t *testing.T) {
	ctx := context.Background()
	store := &state.Store{Client: env.Client, Namespace: kubetest.UniqueName(t)}
	errs := make(chan error, 2)
	for _, commit := range []string{"one", "two"} {
		go func() {
			_, err := store.Update(ctx, func(r *state.Record) {
				if r.BadRevisions == nil {
					r.BadRevisions = map[string]state.BadRevision{}
				}
				r.BadRevisions[commit] = state.BadRevision{Commit: commit}
			})
			errs <- err
		}()
	}
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	got, err := store.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.BadRevisions) != 2 {
		t.Errorf("after two concurrent updates: %v, want both", got.BadRevisions)
	}
}

// A record write from the watch's copy of the ConfigMap is one request
// (a patch of the record, preconditioned on that copy's version) and
// leaves the inventory alone; from a copy someone wrote over since, it
// reads and writes again instead of losing their write.
func TestUpdateFromWritesTheRecordInOneRequestAndFallsBackWhenItsCopyIsStale(t *testing.T) {
	ctx := context.Background()
	ns := kubetest.UniqueName(t)
	store := &state.Store{Client: env.Client, Namespace: ns}
	inv := object.ObjMetadataSet{policyID("a", "allow"), policyID("b", "deny")}
	if _, err := store.Update(ctx, func(r *state.Record) {
		r.Inventory, r.Progress = inv, &state.Progress{Target: "asm-1-29"}
	}); err != nil {
		t.Fatal(err)
	}
	var cm corev1.ConfigMap
	if err := env.Client.Get(ctx, store.Key(), &cm); err != nil {
		t.Fatal(err)
	}
	stale := cm.DeepCopy()
	stale.BinaryData = nil // as the restart phase's watch keeps it

	c, requests, _ := env.CountingClient(t)
	counted := &state.Store{Client: c, Namespace: ns}
	moved := func(names ...string) func(*state.Record) {
		return func(r *state.Record) {
			r.Progress.Restarted = nil
			for _, n := range names {
				r.Progress.Restarted = append(r.Progress.Restarted, ref.Workload{Kind: ref.Deployment, Namespace: "a", Name: n})
			}
		}
	}
	_, written, err := counted.UpdateFrom(ctx, stale, moved("one"))
	if err != nil || written == nil || requests.Load() != 1 {
		t.Fatalf("write from a current copy: %v, written %v, %d requests; want one request", err, written != nil, requests.Load())
	}
	if _, written, err = counted.UpdateFrom(ctx, written, moved("one", "two")); err != nil || written == nil || requests.Load() != 2 {
		t.Fatalf("write from the copy the last write returned: %v, %d requests; want one more", err, requests.Load())
	}
	// stale is two writes behind: its patch conflicts, and the record is
	// read and written again with the change.
	if _, written, err = counted.UpdateFrom(ctx, stale, moved("one", "two", "three")); err != nil || written != nil {
		t.Fatalf("write from a stale copy: %v, written %v; want a fallback to Update", err, written != nil)
	}
	got, err := store.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Progress.Restarted) != 3 || !object.ObjMetadataSet(got.Inventory).Equal(inv) {
		t.Errorf("record %+v, inventory %v: want three moved workloads and the inventory untouched", got.Progress, got.Inventory)
	}
}

// RBAC that grants the record's get and update but not patch (deploy/
// before meshops patched its record) must not lose a moved workload: the
// forbidden patch falls back to a read and an update.
func TestUpdateFromWritesTheRecordWhenPatchIsForbidden(t *testing.T) {
	ctx := context.Background()
	ns := kubetest.UniqueName(t)
	store := &state.Store{Client: env.Client, Namespace: ns}
	if _, err := store.Update(ctx, func(r *state.Record) { r.Progress = &state.Progress{Target: "asm-1-29"} }); err != nil {
		t.Fatal(err)
	}
	var cm corev1.ConfigMap
	if err := env.Client.Get(ctx, store.Key(), &cm); err != nil {
		t.Fatal(err)
	}
	noPatch := interceptor.NewClient(env.Client.(client.WithWatch), interceptor.Funcs{
		Patch: func(ctx context.Context, c client.WithWatch, obj client.Object, patch client.Patch, opts ...client.PatchOption) error {
			return apierrors.NewForbidden(corev1.Resource("configmaps"), obj.GetName(), errors.New("RBAC: patch not granted"))
		},
	})
	limited := &state.Store{Client: noPatch, Namespace: ns}
	if _, _, err := limited.UpdateFrom(ctx, &cm, func(r *state.Record) {
		r.Progress.Restarted = []ref.Workload{{Kind: ref.Deployment, Namespace: "a", Name: "one"}}
	}); err != nil {
		t.Fatalf("UpdateFrom with patch forbidden: %v", err)
	}
	got, err := store.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got.Progress == nil || len(got.Progress.Restarted) != 1 {
		t.Errorf("record after the write: %+v; want the moved workload recorded", got.Progress)
	}
}
