package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/meshops/meshops/ref"
	"github.com/meshops/meshops/state"
)

// suspend and resume flip the flag in the record, and status prints the
// record a person needs: last commit and result, error, bad revisions and
// an unfinished rollout.
func TestSuspendResumeAndStatusPrintTheRecord(t *testing.T) {
	ctx := context.Background()
	ns := "meshops-status"
	args := func(a ...string) []string {
		return append(a, "--kubeconfig", env.Kubeconfig(t), "--state-namespace", ns)
	}
	if code, out, errs := capture(args("suspend")); code != 0 || !strings.Contains(out, "suspended") {
		t.Fatalf("suspend: %d %s %s", code, out, errs)
	}
	store := &state.Store{Client: env.Client, Namespace: ns}
	rec, err := store.Load(ctx)
	if err != nil || !rec.Suspended {
		t.Fatalf("record after suspend: %+v, %v", rec, err)
	}
	if _, err := store.Update(ctx, func(r *state.Record) {
		r.LastAppliedCommit, r.LastResult, r.LastError = "abc123", state.ResultRolledBack, "Deployment/a/b did not roll out"
		r.BadRevisions = map[string]state.BadRevision{"asm-1-29": {Commit: "abc123", Error: "did not roll out", Time: time.Now()}}
		r.Progress = &state.Progress{From: "asm-1-28", Target: "asm-1-29", Commit: "abc123", Step: 3, StepTarget: "restarts", Restarted: []ref.Workload{{Kind: ref.Deployment, Namespace: "a", Name: "b"}}, Started: time.Now()}
	}); err != nil {
		t.Fatal(err)
	}
	code, out, _ := capture(args("status"))
	if code != 0 {
		t.Fatalf("status exited %d", code)
	}
	for _, want := range []string{"abc123", "rolled back", "Deployment/a/b did not roll out", "suspended            true", "bad revision         asm-1-29", "rollout in progress"} {
		if !strings.Contains(out, want) {
			t.Errorf("status lacks %q:\n%s", want, out)
		}
	}
	if code, _, _ := capture(args("resume")); code != 0 {
		t.Fatal("resume failed")
	}
	if rec, _ := store.Load(ctx); rec.Suspended {
		t.Error("still suspended after resume")
	}
}
