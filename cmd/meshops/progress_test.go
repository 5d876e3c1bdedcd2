package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/meshops/meshops/apply"
	"github.com/meshops/meshops/plan"
	"github.com/meshops/meshops/ref"
	"github.com/meshops/meshops/revisions"
	"github.com/meshops/meshops/test/golden"
)

// upgradePlan is the demo's upgrade asm-1-28 → asm-1-29 through the aks
// provider, with policy changes and six restarts.
func upgradePlan() *plan.Plan {
	cm := func(name string) plan.Target {
		return plan.ObjectTarget(ref.Object{Kind: "ConfigMap", Namespace: "aks-istio-system", Name: name})
	}
	policy := func(ns, name string) plan.Target {
		return plan.ObjectTarget(ref.Object{Group: "security.istio.io", Kind: "AuthorizationPolicy", Namespace: ns, Name: name})
	}
	p := &plan.Plan{Commit: "a296660631f9", Tag: "prod-stable", From: "asm-1-28", Target: "asm-1-29", Scenario: plan.ScenarioUpgrade}
	add := func(s plan.Step) { p.Steps = append(p.Steps, s) }
	add(plan.Step{Phase: plan.PhaseValidate, Action: plan.ActionCheck, Op: plan.OpValidate, Target: plan.ConfigTarget()})
	add(plan.Step{Phase: plan.PhaseMeshConfig, Action: plan.ActionCreate, Op: plan.OpApply, Target: cm("istio-shared-configmap-asm-1-29")})
	add(plan.Step{Phase: plan.PhaseRevision, Action: plan.ActionUpdate, Op: plan.OpSetRevisions, Target: plan.RevisionsTarget("/subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/dev-westus3-svc-1"),
		RevisionKind: revisions.KindCanaryStart, Revisions: []string{"asm-1-28", "asm-1-29"}})
	add(plan.Step{Phase: plan.PhaseGate, Action: plan.ActionCheck, Op: plan.OpGate, Target: plan.RevisionTarget("asm-1-29")})
	add(plan.Step{Phase: plan.PhasePolicies, Action: plan.ActionCreate, Op: plan.OpApply, Target: policy("maestro", "allow-api")})
	add(plan.Step{Phase: plan.PhasePolicies, Action: plan.ActionUpdate, Op: plan.OpApply, Target: policy("maestro", "allow-worker")})
	add(plan.Step{Phase: plan.PhasePolicies, Action: plan.ActionCreate, Op: plan.OpApply, Target: policy("aro-hcp", "allow-nothing")})
	add(plan.Step{Phase: plan.PhaseNamespaces, Action: plan.ActionLabel, Op: plan.OpLabel, Target: plan.NamespaceTarget("aro-hcp")})
	add(plan.Step{Phase: plan.PhaseTag, Action: plan.ActionFlip, Op: plan.OpSetTag, Target: plan.TagTarget("prod-stable", plan.TagWebhookRef("prod-stable", "aks-istio-system"))})
	for _, ns := range []string{"maestro", "clusters-service", "aro-hcp"} {
		for _, name := range []string{"api", "worker"} {
			add(plan.Step{Phase: plan.PhaseRestarts, Action: plan.ActionRestart, Op: plan.OpRestart, Revision: "asm-1-29",
				Target: plan.WorkloadTarget(ref.Workload{Kind: ref.Deployment, Namespace: ns, Name: ns + "-" + name})})
		}
	}
	add(plan.Step{Phase: plan.PhaseVerify, Action: plan.ActionCheck, Op: plan.OpVerify, Target: plan.MeshTarget()})
	add(plan.Step{Phase: plan.PhaseComplete, Action: plan.ActionDelete, Op: plan.OpCompleteRevisions, Target: p.Steps[2].Target,
		RevisionKind: revisions.KindComplete, Revisions: []string{"asm-1-29"}})
	add(plan.Step{Phase: plan.PhasePrune, Action: plan.ActionDelete, Op: plan.OpPrune, Target: cm("istio-shared-configmap-asm-1-28")})
	return p
}

// clock is a test's time, moved by hand.
type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) add(d time.Duration)     { c.t = c.t.Add(d) }
func newClock() *clock                   { return &clock{t: time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)} }
func msg(format string, a ...any) string { return fmt.Sprintf(format, a...) }

// upgradeEvents are the executor's events for upgradePlan: the steps
// before the restarts one after the other, the restarts side by side and
// ending in a shuffled order (seed), each reporting what it waits for.
func upgradeEvents(p *plan.Plan, c *clock, seed uint64, emit func(apply.Event)) {
	one := func(i int, took time.Duration, m string) {
		emit(apply.Event{Index: i, Step: p.Steps[i], Status: apply.StepStarted})
		c.add(took)
		emit(apply.Event{Index: i, Step: p.Steps[i], Status: apply.StepDone, Elapsed: took, Message: m})
	}
	i := 0
	for ; p.Steps[i].Phase != plan.PhaseRestarts; i++ {
		one(i, time.Duration(i+1)*10*time.Millisecond, "done")
	}
	var restarts []int
	for ; p.Steps[i].Phase == plan.PhaseRestarts; i++ {
		restarts = append(restarts, i)
		emit(apply.Event{Index: i, Step: p.Steps[i], Status: apply.StepStarted})
	}
	c.add(time.Second)
	for _, j := range restarts {
		emit(apply.Event{Index: j, Step: p.Steps[j], Status: apply.StepWaiting, Elapsed: time.Second, Message: "1 of 2 updated replicas are available"})
	}
	rng := rand.New(rand.NewPCG(seed, seed))
	rng.Shuffle(len(restarts), func(a, b int) { restarts[a], restarts[b] = restarts[b], restarts[a] })
	for n, j := range restarts {
		c.add(500 * time.Millisecond)
		emit(apply.Event{Index: j, Step: p.Steps[j], Status: apply.StepDone, Elapsed: time.Second + time.Duration(n+1)*500*time.Millisecond, Message: "on asm-1-29"})
	}
	for ; i < len(p.Steps); i++ {
		one(i, 20*time.Millisecond, "done")
	}
}

// testProgress is a view of total steps on out, on c's time.
func testProgress(out io.Writer, c *clock, live bool, total int) *progress {
	o := defaultProgressOptions()
	o.now, o.live, o.width = c.now, live, func() int { return 100 }
	prog := newProgress(out, o)
	prog.setTotal(total)
	return prog
}

var position = regexp.MustCompile(`^\[(\d+)/(\d+)\]`)

// In a pipe, every step that ends gets one line, numbered in the order the
// steps end: however the restarts interleave, the numbers only grow.
func TestProgressInAPipeNumbersStepsInTheOrderTheyEnd(t *testing.T) {
	p := upgradePlan()
	for seed := range uint64(20) {
		var out bytes.Buffer
		c := newClock()
		prog := testProgress(&out, c, false, len(p.Steps))
		upgradeEvents(p, c, seed, prog.observe)
		next := 1
		for _, l := range strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n") {
			m := position.FindStringSubmatch(l)
			if m == nil {
				continue
			}
			if n, _ := strconv.Atoi(m[1]); n != next || m[2] != strconv.Itoa(len(p.Steps)) {
				t.Fatalf("seed %d: line %q, want [%d/%d]:\n%s", seed, l, next, len(p.Steps), out.String())
			}
			next++
		}
		if next != len(p.Steps)+1 {
			t.Errorf("seed %d: %d numbered lines, want %d", seed, next-1, len(p.Steps))
		}
		if seed == 0 {
			golden.Check(t, filepath.Join("progress", "pipe.txt"), out.Bytes())
		}
	}
}

// In a pipe, a step silent for a long wait gets a line saying what it
// still waits for, so a CI log shows it is alive.
func TestProgressInAPipeSaysWhatALongStepStillWaitsFor(t *testing.T) {
	p := upgradePlan()
	var out bytes.Buffer
	c := newClock()
	prog := testProgress(&out, c, false, len(p.Steps))
	prog.observe(apply.Event{Index: 2, Step: p.Steps[2], Status: apply.StepStarted})
	c.add(10 * time.Second)
	prog.tick()
	if out.Len() != 0 {
		t.Fatalf("a line before the heartbeat: %q", out.String())
	}
	c.add(25 * time.Second)
	prog.tick()
	want := "[wait]    revision    update  waiting  ManagedCluster/dev-westus3-svc-1 (35s): under way\n"
	if out.String() != want {
		t.Errorf("heartbeat %q, want %q", out.String(), want)
	}
}

// A step's news that comes after its end, or a rollback's (no step of the
// plan), never leaves a step in flight that nothing ends.
func TestProgressKeepsNoStepInFlightThatEnded(t *testing.T) {
	p := upgradePlan()
	var out bytes.Buffer
	o := defaultProgressOptions()
	o.live = true
	prog := newProgress(&out, o)
	prog.setTotal(len(p.Steps))
	s := p.Steps[9]
	prog.observe(apply.Event{Index: 9, Step: s, Status: apply.StepStarted})
	prog.observe(apply.Event{Index: 9, Step: s, Status: apply.StepDone})
	prog.observe(apply.Event{Index: 9, Step: s, Status: apply.StepWaiting, Message: "late"})
	prog.observe(apply.Event{Index: -1, Step: s, Status: apply.StepWaiting, Message: "1 of 2 updated replicas are available"})
	if len(prog.flying) != 0 {
		t.Errorf("%d steps in flight, want none", len(prog.flying))
	}
}

// flightFixture is a rollout in the middle of its restarts: five steps
// done and, of the six restarts, four in flight, started one second apart.
func flightFixture() flightView {
	p := upgradePlan()
	now := newClock().t
	v := flightView{now: now, ended: 11, total: len(p.Steps)}
	for n, i := range []int{9, 10, 12, 14} {
		f := flight{index: i, step: p.Steps[i], start: now.Add(-time.Duration(40-n)*time.Second - 300*time.Millisecond)}
		if n%2 == 0 {
			f.waiting = msg("%d of 3 updated replicas are available", n/2+1)
		}
		v.flying = append(v.flying, f)
	}
	return v
}

// On a terminal the steps in flight are one block: a line of where the
// rollout is, then the oldest steps with their elapsed time and what each
// waits for, "and K more" past the limit, each line cut to the width.
func TestInFlightFrameShowsTheOldestStepsWithWhatTheyWaitFor(t *testing.T) {
	for _, tc := range []struct {
		name  string
		max   int
		width int
		color bool
	}{
		{"all", 8, 120, false},
		{"bounded", 2, 120, false},
		{"narrow", 8, 60, false},
		{"color", 8, 120, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := defaultProgressOptions()
			o.maxInFlight, o.width, o.color = tc.max, func() int { return tc.width }, tc.color
			frame := inFlightFrame(flightFixture(), o)
			for _, l := range strings.Split(strings.TrimSuffix(frame, "\n"), "\n") {
				if n := len([]rune(stripANSI(l))); n > tc.width {
					t.Errorf("line of %d columns, wider than %d: %q", n, tc.width, l)
				}
			}
			golden.Check(t, filepath.Join("progress", "frame-"+tc.name+".txt"), []byte(visibleEscapes(frame)))
		})
	}
	if frame := inFlightFrame(flightView{total: 3, ended: 3}, defaultProgressOptions()); frame != "" {
		t.Errorf("a frame with nothing in flight: %q", frame)
	}
}

// The terminal view as a person sees it, escape codes spelled out: the
// finished lines scroll, the block below them is erased and redrawn at each
// tick, never between; logs go above it; at the end the block is gone.
func TestProgressOnATerminalRedrawsTheBlockBelowTheFinishedLines(t *testing.T) {
	p := upgradePlan()
	var out bytes.Buffer
	c := newClock()
	prog := testProgress(&out, c, true, len(p.Steps))
	// Ticks by hand: after the steps before the restarts, once all
	// restarts are waiting, after two of them ended, and at the end.
	var ticks int
	upgradeEvents(p, c, 0, func(ev apply.Event) {
		prog.observe(ev)
		switch {
		case ev.Status == apply.StepStarted && ev.Index == 9:
			prog.tick()
			ticks++
			// Nothing changed: nothing is written again.
			before := out.Len()
			prog.tick()
			if out.Len() != before {
				t.Errorf("an unchanged block was redrawn")
			}
		case ev.Status == apply.StepWaiting && ev.Index == 14:
			prog.tick()
			fmt.Fprintln(prog.above(&out), "level=WARN msg=\"a warning while restarts run\"")
			prog.tick()
			ticks += 2
		}
	})
	prog.flush(false)
	if ticks != 3 {
		t.Fatalf("%d ticks", ticks)
	}
	golden.Check(t, filepath.Join("progress", "terminal.txt"), []byte(visibleEscapes(out.String())))
}

// The summary says what changed by kind, terraform's way; on failure, what
// failed, what was done before and what was rolled back.
func TestSyncSummarySaysWhatChangedByKind(t *testing.T) {
	p := upgradePlan()
	var all []apply.Event
	upgradeEvents(p, newClock(), 0, func(ev apply.Event) {
		if ev.Status != apply.StepStarted && ev.Status != apply.StepWaiting {
			all = append(all, ev)
		}
	})
	restartAt := slices.IndexFunc(all, func(ev apply.Event) bool { return ev.Step.Phase == plan.PhaseRestarts })
	failed := append([]apply.Event(nil), all[:restartAt+2]...)
	failed = append(failed, apply.Event{Index: 13, Step: p.Steps[13], Status: apply.StepFailed, Message: "did not roll out"})
	rolled := append(append([]apply.Event(nil), failed...),
		apply.Event{Index: -1, Step: p.Steps[8], Status: apply.StepRollback},
		apply.Event{Index: -1, Step: p.Steps[10], Status: apply.StepRollback},
		apply.Event{Index: -1, Step: p.Steps[9], Status: apply.StepRollback},
		apply.Event{Index: -1, Step: plan.Step{Phase: plan.PhaseRevision, Action: plan.ActionUpdate, Op: plan.OpSetRevisions, Target: p.Steps[2].Target,
			RevisionKind: revisions.KindRollback, Revisions: []string{"asm-1-28"}}, Status: apply.StepRollback})
	fresh := upgradePlan()
	fresh.From, fresh.Scenario = "", plan.ScenarioFreshInstall
	fresh.Steps[8].Action = plan.ActionCreate
	var b strings.Builder
	fmt.Fprintf(&b, "== fresh install\n%s\n\n", syncSummary(fresh, []apply.Event{{Index: 8, Step: fresh.Steps[8], Status: apply.StepDone}}, &apply.Result{Duration: 420 * time.Millisecond}, nil))
	for _, tc := range []struct {
		name   string
		events []apply.Event
		res    *apply.Result
		err    error
	}{
		{"complete", all, &apply.Result{Duration: 63*time.Second + 400*time.Millisecond}, nil},
		{"complete, nothing pruned", all[:len(all)-1], &apply.Result{Duration: 11200 * time.Millisecond}, nil},
		{"failed, rolled back", rolled, &apply.Result{Duration: 40 * time.Second, RolledBack: true}, errors.New("restarts stopped")},
		{"failed, not rolled back", failed, &apply.Result{Duration: 40 * time.Second}, errors.New("restarts stopped")},
		{"failed before anything changed", all[:1], &apply.Result{Duration: 300 * time.Millisecond}, errors.New("conflict")},
		{"suspended", all[:restartAt+1], &apply.Result{Duration: 20 * time.Second}, &apply.SuspendedError{Started: 1, Total: 6}},
	} {
		fmt.Fprintf(&b, "== %s\n%s\n\n", tc.name, syncSummary(p, tc.events, tc.res, tc.err))
	}
	golden.Check(t, filepath.Join("progress", "summary.txt"), []byte(b.String()))
}

var ansi = regexp.MustCompile("\x1b\\[[0-9;]*[A-Za-z]")

func stripANSI(s string) string { return ansi.ReplaceAllString(s, "") }

// visibleEscapes spells terminal escapes as <ESC>[... for golden files a
// person reviews.
func visibleEscapes(s string) string { return strings.ReplaceAll(s, "\x1b", "<ESC>") }

// On a terminal a person reads the command's own output: INFO logs, which
// would repeat it, show only when -v or --log-format asks for logs; in a
// pipe they stay; run's output is its logs, on a terminal too.
func TestLogsOnATerminalShowOnlyWarningsUnlessAsked(t *testing.T) {
	for _, tc := range []struct {
		name     string
		terminal bool
		args     []string
		run      bool
		want     slog.Level
	}{
		{"terminal", true, nil, false, slog.LevelWarn},
		{"terminal, -v", true, []string{"-v"}, false, slog.LevelDebug},
		{"terminal, --log-format text", true, []string{"--log-format", "text"}, false, slog.LevelInfo},
		{"terminal, --log-format json", true, []string{"--log-format", "json"}, false, slog.LevelInfo},
		{"terminal, meshops run", true, nil, true, slog.LevelInfo},
		{"pipe", false, nil, false, slog.LevelInfo},
		{"pipe, -v", false, []string{"-v"}, false, slog.LevelDebug},
	} {
		t.Run(tc.name, func(t *testing.T) {
			con := osConsole()
			con.isTerminal = func(any) bool { return tc.terminal }
			root, g := newRoot(con)
			if err := root.PersistentFlags().Parse(tc.args); err != nil {
				t.Fatal(err)
			}
			g.logsAreOutput = tc.run
			if got := g.logLevel(); got != tc.want {
				t.Errorf("level %v, want %v", got, tc.want)
			}
		})
	}
}

// Workers report side by side while the view redraws: every step gets its
// line once, numbered in order, and the block is gone at the end.
func TestProgressTakesEventsFromWorkersWhileRedrawing(t *testing.T) {
	p := upgradePlan()
	// Every write is under the view's lock, and the test reads after end.
	var out bytes.Buffer
	o := defaultProgressOptions()
	o.live, o.redraw = true, time.Millisecond
	prog := newProgress(&out, o)
	prog.setTotal(len(p.Steps))
	prog.begin()
	var wg sync.WaitGroup
	for i := range p.Steps {
		wg.Go(func() {
			prog.observe(apply.Event{Index: i, Step: p.Steps[i], Status: apply.StepStarted})
			prog.observe(apply.Event{Index: i, Step: p.Steps[i], Status: apply.StepWaiting, Message: "waiting"})
			time.Sleep(time.Duration(i) * time.Millisecond)
			prog.observe(apply.Event{Index: i, Step: p.Steps[i], Status: apply.StepDone})
		})
	}
	wg.Wait()
	prog.end()
	screen := out.String()
	for n := 1; n <= len(p.Steps); n++ {
		if c := strings.Count(screen, fmt.Sprintf("[%d/%d]", n, len(p.Steps))); c != 1 {
			t.Errorf("[%d/%d] written %d times", n, len(p.Steps), c)
		}
	}
	// After the last erase, no block is drawn again.
	if tail := screen[strings.LastIndex(screen, "\x1b[J")+1:]; !strings.HasSuffix(screen, "\n") || strings.Contains(tail, "in flight") {
		t.Errorf("the block is left on screen:\n%s", visibleEscapes(screen))
	}
}
