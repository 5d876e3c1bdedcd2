package plan

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/meshops/meshops/observe"
	"github.com/meshops/meshops/revisions"
)

// Revisions is what the planner knows of revisions meshops drives itself
// (the aks provider): what the provider observed and what
// revisions.Decide made of it, before any in-cluster step ran.
type Revisions struct {
	State    revisions.State
	Desired  revisions.Desired
	Decision revisions.Decision
}

// DesiredRevisions is the config's half of revisions.Desired completed
// with what the cluster shows now: which workloads run which revision and
// where the tag points (the orphan guard), the canary's start (the soak)
// and the time of the decision.
func DesiredRevisions(base revisions.Desired, s *observe.Snapshot, tag string, canaryStarted, now time.Time) revisions.Desired {
	d := base
	d.Now, d.CanaryStarted = now, canaryStarted
	d.Workloads = map[string][]string{}
	for _, w := range s.Workloads {
		for rev := range w.Revisions() {
			if rev != "" {
				d.Workloads[rev] = append(d.Workloads[rev], w.Namespace+"/"+w.Name)
			}
		}
	}
	for rev := range d.Workloads {
		slices.Sort(d.Workloads[rev])
	}
	if t, ok := s.Tags[tag]; ok {
		d.TagRevision = t.Revision
	}
	return d
}

// installs reports whether the revision change of this plan brings target
// up: then the target being absent or not ready yet is expected, and the
// gate waits for it.
func (r *Revisions) installs(target string) bool {
	if r == nil {
		return false
	}
	k := r.Decision.Kind
	if k == revisions.KindResume && r.Decision.Operation != nil {
		return slices.Contains(r.Decision.Operation.Revisions, target) || len(r.Decision.Operation.Revisions) == 0
	}
	return k.Changes() && slices.Contains(r.Decision.Revisions, target)
}

// classify blocks the plan on the provider's word: a decision that meshops
// will not change the revisions, or an operation of someone else's.
func (r *Revisions) classify(c Classification) Classification {
	// The provider knows why a target is not installed (not an available
	// upgrade, another operation running): its word wins over "waiting for
	// istiod to appear". Other blocks stand.
	if r == nil || c.Blocked && c.Scenario != ScenarioTargetNotInstalled && c.Scenario != ScenarioTargetUnhealthy {
		return c
	}
	switch r.Decision.Kind {
	case revisions.KindBlocked:
		return c.block(ScenarioRevisionsBlocked, r.Decision.Reason)
	case revisions.KindWait:
		return c.block(ScenarioRevisionsBusy, r.Decision.Reason)
	}
	return c
}

// addRevisionChange adds the revision phase: install, canary start,
// consolidate, or following an operation already running.
func (p *Plan) addRevisionChange(r *Revisions) {
	if r == nil {
		return
	}
	dec := r.Decision
	if !dec.Kind.Changes() && dec.Kind != revisions.KindResume {
		return
	}
	action, revs := ActionUpdate, dec.Revisions
	if dec.Kind == revisions.KindInstall {
		action = ActionCreate
	}
	if dec.Kind == revisions.KindResume && dec.Operation != nil {
		revs = dec.Operation.Revisions
	}
	p.add(Step{Phase: PhaseRevision, Action: action, Op: OpSetRevisions, Target: RevisionsTarget(r.State.Cluster),
		RevisionKind: dec.Kind, Revisions: slices.Clone(revs), Reason: revisionReason(dec)})
}

// revisionsComplete is the complete phase's step: removing the other
// revision once verify passed, nothing runs on it and the soak is over
// (the executor decides again then, with what it sees). The soak still
// running is a warning instead, and a later run completes.
func (p *Plan) revisionsComplete(r *Revisions) *Step {
	if r == nil {
		return nil
	}
	dec := r.Decision
	// Before verify, Decide puts a complete or rollback in Next. A canary
	// this plan starts for a single desired revision is completed by the
	// same run once verify passed; any other change now is the revision
	// phase's alone.
	next, started := dec.Next, r.Desired.CanaryStarted
	resumesCanary := dec.Kind == revisions.KindResume && dec.Operation != nil && dec.Operation.Kind == revisions.KindCanaryStart
	switch {
	case dec.Kind == revisions.KindCanaryStart && r.Desired.Shape == revisions.ShapeSingle:
		next, started = revisions.KindComplete, r.Desired.Now
	case resumesCanary && r.Desired.Shape == revisions.ShapeSingle:
		next = revisions.KindComplete
		if started.IsZero() {
			started = r.Desired.Now
		}
	case dec.Kind.Changes():
		return nil
	}
	if next != revisions.KindComplete && next != revisions.KindRollback {
		return nil
	}
	if next == revisions.KindComplete && r.Desired.CompleteAfter > 0 && !started.IsZero() {
		if left := started.Add(r.Desired.CompleteAfter).Sub(r.Desired.Now); left > 0 {
			p.Warnings = append(p.Warnings, fmt.Sprintf("the canary completes after its soak (meshops.revisions.completeAfter): %s left; a later run completes it", left.Round(time.Second)))
			return nil
		}
	}
	keep, removes := dec.Revisions, dec.Removes
	if dec.Kind.Changes() || dec.Kind == revisions.KindResume {
		// The canary this plan starts (or resumes) is what completes:
		// everything installed but the target goes.
		keep, removes = []string{r.Desired.Target.Name}, nil
		for _, rev := range r.State.Installed {
			if rev.Name != r.Desired.Target.Name {
				removes = append(removes, rev.Name)
			}
		}
	}
	reason := fmt.Sprintf("%s [%s]: remove %s once verify passed and nothing runs on it", next, strings.Join(keep, ", "), orNothing(removes))
	return &Step{Phase: PhaseComplete, Action: ActionDelete, Op: OpCompleteRevisions, Target: RevisionsTarget(r.State.Cluster),
		RevisionKind: next, Revisions: slices.Clone(keep), Reason: reason}
}

func orNothing(revs []string) string {
	if len(revs) == 0 {
		return "the other revision"
	}
	return strings.Join(revs, ", ")
}

func revisionReason(d revisions.Decision) string {
	if len(d.Revisions) == 0 {
		return fmt.Sprintf("%s: %s", d.Kind, d.Reason)
	}
	return fmt.Sprintf("%s [%s]: %s", d.Kind, strings.Join(d.Revisions, ", "), d.Reason)
}
