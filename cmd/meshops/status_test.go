package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/meshops/meshops/ref"
	"github.com/meshops/meshops/state"
	"github.com/meshops/meshops/status"
	"github.com/meshops/meshops/test/golden"
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

// status --watch -o json prints one JSON document a line: the first at
// once, the next when the mesh or the record changed (here: suspend), and
// it ends with its context (Ctrl-C).
func TestStatusWatchPrintsAJSONLineForEachChange(t *testing.T) {
	ns := "meshops-status-watch"
	kubeconfig := env.Kubeconfig(t)
	// Bounds the test if no second report ever comes; no claim on speed.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	r, w := io.Pipe()
	done := make(chan int, 1)
	var errs bytes.Buffer
	go func() {
		done <- runOn(ctx, []string{"status", "--watch", "-o", "json", "--interval", "100ms", "--kubeconfig", kubeconfig, "--state-namespace", ns},
			strings.NewReader(""), w, &errs, osConsole())
		w.Close()
	}()
	lines := bufio.NewScanner(r)
	lines.Buffer(nil, 1<<20)
	next := func() map[string]any {
		t.Helper()
		if !lines.Scan() {
			t.Fatalf("the watch ended early: %v\n%s", lines.Err(), errs.String())
		}
		var doc map[string]any
		if err := json.Unmarshal(lines.Bytes(), &doc); err != nil {
			t.Fatalf("not one JSON document a line: %v\n%s", err, lines.Text())
		}
		return doc
	}
	suspended := func(doc map[string]any) any {
		rec, _ := doc["record"].(map[string]any)
		return rec["suspended"]
	}
	if s := suspended(next()); s == true {
		t.Fatalf("suspended before suspend")
	}
	if code, out, errs := capture([]string{"suspend", "--kubeconfig", kubeconfig, "--state-namespace", ns}); code != exitOK {
		t.Fatalf("suspend: %d %s %s", code, out, errs)
	}
	if s := suspended(next()); s != true {
		t.Errorf("the report after suspend says suspended %v", s)
	}
	cancel()
	go func() { _, _ = io.Copy(io.Discard, r) }()
	if code := <-done; code != exitOK {
		t.Errorf("the watch ended with %d, want 0:\n%s", code, errs.String())
	}
}

// A watch's frames: on a terminal the screen is cleared and headed by the
// interval and time, as watch(1) does; in a pipe each report is headed by
// its time; -o json is one line a report.
func TestStatusWatchFrames(t *testing.T) {
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	r := status.Build(nil, &state.Record{Suspended: true, LastResult: state.ResultSucceeded, LastAppliedCommit: "a296660631f9", LastRun: now.Add(-time.Minute)}, "prod-stable", nil, now)
	var b bytes.Buffer
	for _, tc := range []struct {
		name   string
		format string
		screen bool
	}{{"terminal", formatText, true}, {"pipe", formatText, false}, {"json", formatJSON, false}, {"yaml", formatYAML, false}} {
		fmt.Fprintf(&b, "== %s\n", tc.name)
		if err := watchFrame(&b, tc.format, tc.screen, 2*time.Second, r); err != nil {
			t.Fatal(err)
		}
	}
	golden.Check(t, "status-watch.txt", []byte(visibleEscapes(b.String())))
}
