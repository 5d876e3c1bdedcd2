package status

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/meshops/meshops/mesh"
	"github.com/meshops/meshops/state"
	"github.com/meshops/meshops/test/kubetest"
	"github.com/meshops/meshops/test/simmesh"
)

var env *kubetest.Env

func TestMain(m *testing.M) { kubetest.Main(m, &env) }

// A real API server with the simulated add-on on asm-1-28 and asm-1-29
// (asm-1-29's istiod not ready), the tag on asm-1-29, a namespace on the
// tag whose workloads still run asm-1-28, a pod whose proxy names no
// revision, and a suspended record mid-rollout.
func TestObserveReportsASeededCluster(t *testing.T) {
	ctx := context.Background()
	sim := simmesh.DefaultOptions()
	sim.Namespace = env.Namespace(t, nil)
	sim.IngressNamespace = env.Namespace(t, nil)
	sim.FailurePolicy = "Ignore"
	if err := simmesh.Install(ctx, env.Client, sim); err != nil {
		t.Fatal(err)
	}
	if err := simmesh.SetDeploymentReady(ctx, env.Client, sim.Namespace, mesh.IstiodName("asm-1-29"), false); err != nil {
		t.Fatal(err)
	}
	var injector admissionregistrationv1.MutatingWebhookConfiguration
	if err := env.Client.Get(ctx, client.ObjectKey{Name: mesh.InjectorWebhookName("asm-1-29", sim.Namespace)}, &injector); err != nil {
		t.Fatal(err)
	}
	tag, err := mesh.TagWebhook(&injector, "prod-stable", "asm-1-29", sim.Namespace)
	if err != nil {
		t.Fatal(err)
	}
	// Nothing serves the simulated injector: pods are created with their
	// sidecar already written, past the webhook.
	ignore := admissionregistrationv1.Ignore
	for i := range tag.Webhooks {
		tag.Webhooks[i].FailurePolicy = &ignore
	}
	env.Create(t, tag)
	t.Cleanup(func() { _ = env.Client.Delete(context.Background(), tag) })

	ns := env.Namespace(t, map[string]string{mesh.RevisionLabel: "prod-stable"})
	env.SeedWorkloads(t, ns, "asm-1-28")
	env.Create(t, kubetest.InjectedPod(ns, "gateway", "", nil))

	store := &state.Store{Client: env.Client, Namespace: env.Namespace(t, nil)}
	started := time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC)
	if _, err := store.Update(ctx, func(r *state.Record) {
		r.Suspended = true
		r.LastResult = state.ResultSuspended
		r.LastAppliedCommit = "c42a84d0f079"
		r.Progress = &state.Progress{Commit: "a296660631f9", From: "asm-1-28", Target: "asm-1-29", Step: 5, Started: started}
	}); err != nil {
		t.Fatal(err)
	}

	o := DefaultOptions()
	o.IstioNamespace = sim.Namespace
	o.Tag = "prod-stable"
	o.Versions = []string{"asm-1-29"}
	o.Now = func() time.Time { return now }
	r, err := Observe(ctx, env.Client, store, o)
	if err != nil {
		t.Fatal(err)
	}

	if want := (Tag{Name: "prod-stable", Found: true, Revision: "asm-1-29"}); r.Tag != want {
		t.Errorf("tag %+v, want %+v", r.Tag, want)
	}
	if len(r.Revisions) != 3 {
		t.Fatalf("revisions %+v, want asm-1-28, asm-1-29 and unknown", r.Revisions)
	}
	old, target, unknown := r.Revisions[0], r.Revisions[1], r.Revisions[2]
	if old.Name != "asm-1-28" || !old.Installed || !old.Healthy || *old.InVersions || old.Workloads != 4 || old.Pods != 5 {
		t.Errorf("asm-1-28: %+v, want installed, healthy, not in versions, 4 workloads with 5 pods", old)
	}
	if target.Name != "asm-1-29" || !target.Installed || target.Healthy || !*target.InVersions ||
		!reflect.DeepEqual(target.Tags, []string{"prod-stable"}) || !strings.Contains(target.Reason, "0 ready") {
		t.Errorf("asm-1-29: %+v, want installed, unhealthy for lack of ready replicas, in versions, tagged", target)
	}
	if !unknown.Unknown || unknown.Workloads != 1 || unknown.Pods != 1 {
		t.Errorf("unknown: %+v, want the one pod whose proxy names no revision", unknown)
	}

	var got []string
	for _, s := range r.Stragglers {
		got = append(got, s.Workload.String()+" "+string(s.Reason)+" "+strings.Join(s.Revisions, ","))
	}
	want := []string{
		"CronJob/" + ns + "/cleanup off-tag asm-1-28",
		"Deployment/" + ns + "/frontend off-tag asm-1-28",
		"Pod/" + ns + "/debug off-tag asm-1-28",
		"Pod/" + ns + "/gateway unknown-revision unknown",
		"StatefulSet/" + ns + "/db off-tag asm-1-28",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("stragglers\n got %q\nwant %q", got, want)
	}
	if r.Workloads != 5 {
		t.Errorf("%d workloads, want 5", r.Workloads)
	}

	wantRecord := &Record{Suspended: true, LastResult: state.ResultSuspended, LastAppliedCommit: "c42a84d0f079",
		Rollout: &Rollout{InProgress: true, Commit: "a296660631f9", From: "asm-1-28", Target: "asm-1-29", Step: 6, Started: started}}
	if !reflect.DeepEqual(r.Record, wantRecord) {
		t.Errorf("record %+v, want %+v", r.Record, wantRecord)
	}
}
