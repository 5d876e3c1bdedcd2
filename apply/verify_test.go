package apply_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/meshops/meshops/apply"
	"github.com/meshops/meshops/plan"
)

// lockedBuffer lets the restart workers log into one buffer.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// A namespace pinned to a revision is not this rollout's doing: the
// upgrade completes, the verify step's message counts the findings
// outside the rollout, and the log names this one with its fix.
func TestVerifyStepReportsFindingsOutsideTheRolloutWithoutFailingIt(t *testing.T) {
	ctx := context.Background()
	f := newMesh(t, 1)
	f.writeRepo("asm-1-29")
	f.onTag("asm-1-28")
	f.deployments(1, "asm-1-28")
	pinned := env.Namespace(t, map[string]string{"istio.io/rev": "asm-1-28"})

	var log lockedBuffer
	var verifyMsg string
	_, res, err := f.sync(ctx, "c1", func(o *apply.Options) {
		o.Log = slog.New(slog.NewTextHandler(&log, &slog.HandlerOptions{Level: slog.LevelWarn}))
		o.Progress = func(ev apply.Event) {
			if ev.Step.Op == plan.OpVerify && ev.Status == apply.StepDone {
				verifyMsg = ev.Message
			}
		}
	})
	if err != nil || !res.TagMoved || res.RolledBack {
		t.Fatalf("sync: %+v, %v; want the upgrade done", res, err)
	}
	if !strings.Contains(verifyMsg, "outside this rollout (meshops verify lists them)") {
		t.Errorf("verify step message %q does not report the findings outside the rollout", verifyMsg)
	}
	var line string
	for _, l := range strings.Split(log.String(), "\n") {
		if strings.Contains(l, "object=Namespace/"+pinned+" ") {
			line = l
		}
	}
	if !strings.Contains(line, "rule=namespace-label") || !strings.Contains(line, "istio.io/rev=") {
		t.Errorf("no namespace-label finding with its fix for %s in the log:\n%s", pinned, log.String())
	}
}
