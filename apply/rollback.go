package apply

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/meshops/meshops/plan"
)

// shouldRollBack: only a rollout that moved something toward the target
// (the tag, workloads, or the revisions themselves) has anything to
// return, and only to a revision the tag was on before.
func (r *run) shouldRollBack() bool {
	return r.Options.AutoRollback && r.from != "" && r.from != r.p.Target && (r.tagMoved || len(r.restarted) > 0 || r.revisionsChanged)
}

// rollBack returns the tag to the previous revision, after the same health
// check the forward move needed, then restarts the workloads this rollout
// moved, in reverse order. The error says what failed and what was rolled
// back.
func (r *run) rollBack(ctx context.Context, cause error) error {
	from := r.from
	r.log.Warn("rolling back", "to", from, "cause", cause)
	tag := plan.TagTarget(r.p.Tag, plan.TagWebhookRef(r.p.Tag, r.Options.IstioNamespace))
	r.report(Event{Index: -1, Step: plan.Step{Phase: plan.PhaseTag, Action: plan.ActionFlip, Op: plan.OpSetTag, Target: tag}, Status: StepRollback,
		Message: fmt.Sprintf("rollout failed; moving tag %s back to %s", r.p.Tag, from)})
	ok, why, err := r.health(ctx, from)
	if err != nil {
		return errors.Join(cause, fmt.Errorf("rollback: %w", err))
	}
	if !ok {
		return errors.Join(cause, fmt.Errorf("rollback not possible: previous revision unhealthy: %s; tag left on %s", why, r.p.Target))
	}
	if err := r.setTag(ctx, from); err != nil {
		return errors.Join(cause, fmt.Errorf("rollback: %w", err))
	}
	if err := r.waitTagInjects(ctx, from); err != nil {
		return errors.Join(cause, fmt.Errorf("rollback: %w", err))
	}
	r.res.RolledBack = true
	moved := slices.Clone(r.restarted)
	slices.Reverse(moved)
	stopWatches := r.startWatches(ctx, moved)
	defer stopWatches()
	var back, failed []string
	for _, id := range moved {
		s := plan.Step{Phase: plan.PhaseRestarts, Action: plan.ActionRestart, Op: plan.OpRestart, Target: plan.WorkloadTarget(id), Revision: from}
		r.report(Event{Index: -1, Step: s, Status: StepRollback, Message: "restarting back onto " + from})
		if _, err := r.restart(ctx, -1, s, true); err != nil {
			failed = append(failed, err.Error())
			continue
		}
		back = append(back, id.String())
	}
	msg := fmt.Sprintf("rolled back: tag %s returned to %s", r.p.Tag, from)
	if len(back) > 0 {
		msg += "; restarted back: " + strings.Join(back, ", ")
	}
	if len(failed) > 0 {
		msg += "; NOT restarted back: " + strings.Join(failed, "; ")
	} else if rmsg, err := r.rollBackRevisions(ctx); err != nil {
		msg += "; revisions NOT rolled back: " + err.Error()
	} else if rmsg != "" {
		msg += "; " + rmsg
	}
	return fmt.Errorf("%w; %s", cause, msg)
}
