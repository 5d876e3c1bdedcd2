package main

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/meshops/meshops/apply"
	"github.com/meshops/meshops/plan"
)

// tally counts what a sync did, by kind, in the order it was done: each
// kind once, where it first came ("AuthorizationPolicy 2 created, 1
// updated"), and the changes said in words (the tag, the revisions) where
// they came.
type tally struct {
	// entries are kinds and phrases in order; a kind is in verbs.
	entries []string
	verbs   map[string][]string
	count   map[[2]string]int
}

func (t *tally) add(kind, verb string) {
	if t.verbs == nil {
		t.verbs, t.count = map[string][]string{}, map[[2]string]int{}
	}
	if _, ok := t.verbs[kind]; !ok {
		t.entries = append(t.entries, kind)
		t.verbs[kind] = nil
	}
	k := [2]string{kind, verb}
	if t.count[k] == 0 {
		t.verbs[kind] = append(t.verbs[kind], verb)
	}
	t.count[k]++
}

func (t *tally) say(phrase string) { t.entries = append(t.entries, phrase) }

// parts are the tally's phrases, in order.
func (t *tally) parts() []string {
	var out []string
	for _, e := range t.entries {
		verbs, ok := t.verbs[e]
		if !ok {
			out = append(out, e)
			continue
		}
		var vs []string
		for _, v := range verbs {
			vs = append(vs, fmt.Sprintf("%d %s", t.count[[2]string{e, v}], v))
		}
		out = append(out, e+" "+strings.Join(vs, ", "))
	}
	return out
}

// pastTense of a step's action, as the summary says it.
var pastTense = map[plan.Action]string{
	plan.ActionCreate: "created", plan.ActionUpdate: "updated", plan.ActionDelete: "deleted",
	plan.ActionLabel: "labelled", plan.ActionRestart: "restarted",
}

// countStep adds one step that ended well to t, or to pruned for a prune;
// checks change nothing and are not counted.
func countStep(t, pruned *tally, p *plan.Plan, s plan.Step) {
	switch s.Op {
	case plan.OpApply:
		t.add(s.Target.Object.Kind, pastTense[s.Action])
	case plan.OpAnnotate:
		t.add(s.Target.Object.Kind, "annotated")
	case plan.OpLabel:
		t.add("Namespace", "labelled")
	case plan.OpCreateNamespace:
		t.add("Namespace", "created")
	case plan.OpRestart:
		t.add(string(s.Target.Workload.Kind), "restarted")
	case plan.OpDeletePod:
		t.add("Pod", "deleted")
	case plan.OpPrune:
		pruned.add(s.Target.Object.Kind, "pruned")
	case plan.OpSetTag:
		switch {
		case s.Action == plan.ActionCreate:
			t.say(fmt.Sprintf("tag %s created on %s", p.Tag, p.Target))
		case p.From != "" && p.From != p.Target:
			t.say(fmt.Sprintf("tag %s moved %s → %s", p.Tag, p.From, p.Target))
		default:
			t.say(fmt.Sprintf("tag %s set to %s", p.Tag, p.Target))
		}
	case plan.OpSetRevisions, plan.OpCompleteRevisions:
		t.say(fmt.Sprintf("revisions → [%s] (%s)", strings.Join(s.Revisions, ", "), s.RevisionKind))
	}
}

// syncSummary is sync's last word, terraform's way: what changed, by kind,
// and how long it took; on failure, also what failed and what was rolled
// back. events are those progress kept (ended steps and rollbacks); res is
// the executor's result (nil when it did not run); err what Execute
// returned.
func syncSummary(p *plan.Plan, events []apply.Event, res *apply.Result, err error) string {
	var (
		done, pruned, back tally
		failed             []string
	)
	for _, ev := range events {
		switch ev.Status {
		case apply.StepDone:
			countStep(&done, &pruned, p, ev.Step)
		case apply.StepFailed:
			failed = append(failed, ev.Step.Target.String())
		case apply.StepRollback:
			if ev.Step.Op == plan.OpSetTag {
				back.say("tag " + p.Tag + " back to " + p.From)
			} else if ev.Step.Op == plan.OpSetRevisions {
				back.say("revisions back to [" + strings.Join(ev.Step.Revisions, ", ") + "] (canary removed)")
			} else if w := ev.Step.Target.Workload; w != nil {
				back.add(string(w.Kind), "restarted back")
			}
		}
	}
	parts := append(done.parts(), pruned.parts()...)
	if len(pruned.entries) == 0 && err == nil {
		parts = append(parts, "0 pruned")
	}
	var took time.Duration
	if res != nil {
		took = res.Duration
	}
	did := strings.Join(parts, "; ")
	if err == nil {
		if did == "" {
			did = "nothing changed"
		}
		return fmt.Sprintf("Sync complete in %s: %s.", roughly(took), did)
	}
	if did == "" {
		did = "nothing"
	}
	var b strings.Builder
	switch {
	case errors.As(err, new(*apply.SuspendedError)):
		fmt.Fprintf(&b, "Sync stopped after %s: the cluster was suspended (meshops suspend).\n", roughly(took))
	case res != nil && res.RolledBack:
		fmt.Fprintf(&b, "Sync failed after %s and was rolled back.\n", roughly(took))
	default:
		fmt.Fprintf(&b, "Sync failed after %s.\n", roughly(took))
	}
	if len(failed) > 0 {
		fmt.Fprintf(&b, "  Failed:      %s\n", strings.Join(failed, ", "))
	}
	fmt.Fprintf(&b, "  Done before: %s\n", did)
	switch rb := strings.Join(back.parts(), "; "); {
	case rb != "":
		fmt.Fprintf(&b, "  Rolled back: %s\n", rb)
	case errors.As(err, new(*apply.SuspendedError)):
		b.WriteString("  To continue: meshops resume, then meshops sync.\n")
	case res != nil && !res.RolledBack && did != "nothing":
		b.WriteString("  Not rolled back: what was done stays; run meshops sync again to continue.\n")
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// roughly is a duration as a person reads it: milliseconds under a
// second, tenths under a minute, whole seconds beyond.
func roughly(d time.Duration) string {
	switch {
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	case d < time.Minute:
		return d.Round(100 * time.Millisecond).String()
	}
	return d.Round(time.Second).String()
}
