package status

import (
	"bytes"
	"testing"
	"time"

	"github.com/meshops/meshops/observe"
	"github.com/meshops/meshops/ref"
	"github.com/meshops/meshops/state"
	"github.com/meshops/meshops/test/golden"
)

// upgrading is a report in the middle of the upgrade asm-1-28 → asm-1-29:
// the tag moved, one workload still on asm-1-28, a gateway whose proxy
// names no revision, a bad revision, a git source failing, and a last
// error that quotes markup.
func upgrading() Report {
	snap := mesh2("asm-1-29",
		deployment("app", "api", pod("api-1", "asm-1-29"), pod("api-2", "asm-1-29")),
		deployment("app", "worker", pod("worker-1", "asm-1-28")),
		deployment("legacy", "gateway", pod("gateway-1", "")),
		deployment("legacy", "old", pod("old-1", "asm-1-28")),
	)
	snap.Workloads = append(snap.Workloads, observe.Workload{Kind: ref.StatefulSet, Namespace: "app", Name: "db", Pods: []observe.Pod{pod("db-0", "asm-1-29")}})
	rec := &state.Record{
		LastAppliedCommit: "c42a84d0f079",
		LastResult:        state.ResultFailed,
		LastError:         `Deployment/app/worker restart failed: <script>alert("x")</script>`,
		LastRun:           now.Add(-2 * time.Minute),
		NextRun:           now.Add(3 * time.Minute),
		SourceError:       "fetching origin: connection refused",
		SourceErrorSince:  now.Add(-10 * time.Minute),
		BadRevisions:      map[string]state.BadRevision{"asm-1-27": {Commit: "0a1b2c3d4e5f", Error: "verify failed", Time: now.Add(-48 * time.Hour)}},
		Progress: &state.Progress{Commit: "a296660631f9", From: "asm-1-28", Target: "asm-1-29", Step: 6,
			StepTarget: "Deployment/app/worker", Started: now.Add(-90 * time.Second),
			Restarted: []ref.Workload{{Kind: ref.Deployment, Namespace: "app", Name: "api"}}},
	}
	return Build(snap, rec, "prod-stable", []string{"asm-1-29"}, now)
}

func TestRenderTextFitsOneScreen(t *testing.T) {
	var buf bytes.Buffer
	if err := RenderText(&buf, upgrading()); err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "upgrading.txt", buf.Bytes())
	if n := bytes.Count(buf.Bytes(), []byte("\n")); n > 24 {
		t.Errorf("%d lines: more than one screen", n)
	}
}

func TestRenderTextWithoutRecordOrTag(t *testing.T) {
	var buf bytes.Buffer
	if err := RenderText(&buf, Build(&observe.Snapshot{}, nil, "", nil, now)); err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "empty.txt", buf.Bytes())
}

func TestRenderJSON(t *testing.T) {
	var buf bytes.Buffer
	if err := RenderJSON(&buf, upgrading()); err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "upgrading.json", buf.Bytes())
}

func TestRenderHTML(t *testing.T) {
	var buf bytes.Buffer
	if err := RenderHTML(&buf, upgrading()); err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "upgrading.html", buf.Bytes())
}

func TestRenderTextKeepsTerminalEscapesOutOfTheTerminal(t *testing.T) {
	r := Build(nil, &state.Record{LastError: "apply failed:\x1b[2J\x1b]0;owned\x07\nsecond line"}, "", nil, now)
	var buf bytes.Buffer
	if err := RenderText(&buf, r); err != nil {
		t.Fatal(err)
	}
	if bytes.ContainsAny(buf.Bytes(), "\x1b\x07") {
		t.Errorf("control characters reached the output:\n%q", buf.String())
	}
	if !bytes.Contains(buf.Bytes(), []byte("last error           apply failed:?[2J?]0;owned? second line\n")) {
		t.Errorf("the error is not on one line:\n%s", buf.String())
	}
}
