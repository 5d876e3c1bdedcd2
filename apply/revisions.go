package apply

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/meshops/meshops/observe"
	"github.com/meshops/meshops/plan"
	"github.com/meshops/meshops/revisions"
	"github.com/meshops/meshops/state"
)

// setRevisions is the revision phase: ask the provider for the plan's
// revisions (install, canary start, consolidate) and wait for the
// operation, or follow the one a crashed run left in the record without
// asking again.
func (r *run) setRevisions(ctx context.Context, s plan.Step) (string, error) {
	rec, err := r.Store.Load(ctx)
	if err != nil {
		return "", err
	}
	if rec.Revisions != nil && rec.Revisions.Operation != nil {
		op := *rec.Revisions.Operation
		r.revisionsChanged = true
		if err := r.waitRevisions(ctx, op); err != nil {
			return "", err
		}
		return fmt.Sprintf("followed the %s operation a previous run started to its end", opKind(op)), nil
	}
	if s.RevisionKind == revisions.KindResume {
		// Someone else's operation: follow it, then the next run decides.
		if err := r.waitRevisions(ctx, revisions.Operation{}); err != nil {
			return "", err
		}
		return "followed the running operation to its end", nil
	}
	op, err := r.startRevisions(ctx, s.RevisionKind, s.Revisions)
	if err != nil {
		return "", err
	}
	r.revisionsChanged = true
	if err := r.waitRevisions(ctx, op); err != nil {
		return "", err
	}
	return fmt.Sprintf("%s done: revisions [%s]", s.RevisionKind, strings.Join(s.Revisions, ", ")), nil
}

// startRevisions asks the provider for revs and keeps the operation in the
// record before waiting for it, so that a run that dies while it waits is
// followed by one that polls the same operation instead of asking again.
// An operation of someone else's (a 409) is waited for first, never raced.
func (r *run) startRevisions(ctx context.Context, kind revisions.Kind, revs []string) (revisions.Operation, error) {
	c := r.Options.Revisions
	if c == nil {
		return revisions.Operation{}, errors.New("the plan changes the revisions but no revision provider is configured (meshops.revisions.provider)")
	}
	for attempt := 0; ; attempt++ {
		op, err := c.SetRevisions(ctx, kind, revs)
		if errors.Is(err, revisions.ErrInProgress) && attempt < 3 {
			r.log.Info("another operation runs on the cluster; waiting for it before asking", "kind", kind, "revisions", revs)
			if werr := c.Wait(ctx, revisions.Operation{}); werr != nil {
				return op, fmt.Errorf("waiting for the operation in progress: %w", werr)
			}
			continue
		}
		if err != nil {
			return op, err
		}
		_, err = r.Store.Update(ctx, func(rec *state.Record) {
			if rec.Revisions == nil {
				rec.Revisions = &state.Revisions{}
			}
			rec.Revisions.Operation = &op
			if kind == revisions.KindCanaryStart {
				rec.Revisions.CanaryStarted = time.Now()
			}
		})
		return op, err
	}
}

// waitRevisions follows op to its end and then forgets it; a cancelled
// wait keeps it in the record for the next run.
func (r *run) waitRevisions(ctx context.Context, op revisions.Operation) error {
	c := r.Options.Revisions
	if c == nil {
		return errors.New("no revision provider is configured (meshops.revisions.provider)")
	}
	r.log.Info("waiting for the revision operation", "kind", op.Kind, "revisions", op.Revisions)
	err := c.Wait(ctx, op)
	if ctx.Err() != nil {
		return err
	}
	if _, uerr := r.Store.Update(ctx, func(rec *state.Record) {
		if rec.Revisions != nil {
			rec.Revisions.Operation = nil
			if op.Kind == revisions.KindComplete || op.Kind == revisions.KindRollback {
				rec.Revisions.CanaryStarted = time.Time{}
			}
		}
	}); uerr != nil {
		return errors.Join(err, uerr)
	}
	return err
}

// decideRevisions decides again with the provider's and the cluster's
// state now: the complete step and a rollback act on what is true then,
// not on what the plan saw.
func (r *run) decideRevisions(ctx context.Context, verified, failed bool) (revisions.Decision, error) {
	rec, err := r.Store.Load(ctx)
	if err != nil {
		return revisions.Decision{}, err
	}
	var pending *revisions.Operation
	var canaryStarted time.Time
	if rec.Revisions != nil {
		pending, canaryStarted = rec.Revisions.Operation, rec.Revisions.CanaryStarted
	}
	st, err := r.Options.Revisions.Observe(ctx, pending)
	if err != nil {
		return revisions.Decision{}, fmt.Errorf("observing the revisions: %w", err)
	}
	snap, err := observe.Observe(ctx, r.Cluster.Client, observe.Options{IstioNamespace: r.Options.IstioNamespace})
	if err != nil {
		return revisions.Decision{}, err
	}
	d := plan.DesiredRevisions(r.cfg.DesiredRevisions(), snap, r.p.Tag, canaryStarted, time.Now())
	d.VerifyPassed, d.RolloutFailed = verified, failed
	return revisions.Decide(st, d), nil
}

// completeRevisions is the complete phase: once verify passed in this run,
// remove the revision the rollout left behind (or the reverted target),
// if the orphan guard and the soak allow it now.
func (r *run) completeRevisions(ctx context.Context) (string, error) {
	if r.Options.Revisions == nil {
		return "", errors.New("the plan completes a canary but no revision provider is configured (meshops.revisions.provider)")
	}
	if !r.verified {
		return "", errors.New("refusing to remove a revision: verify has not passed in this run")
	}
	dec, err := r.decideRevisions(ctx, true, false)
	if err != nil {
		return "", err
	}
	switch dec.Kind {
	case revisions.KindComplete, revisions.KindRollback:
		op, err := r.startRevisions(ctx, dec.Kind, dec.Revisions)
		if err != nil {
			return "", err
		}
		if err := r.waitRevisions(ctx, op); err != nil {
			return "", err
		}
		return fmt.Sprintf("%s done: revisions [%s]", dec.Kind, strings.Join(dec.Revisions, ", ")), nil
	case revisions.KindCompleteLater:
		return fmt.Sprintf("completes after the soak, %s left; a later run completes it", dec.After.Round(time.Second)), nil
	case revisions.KindBlocked:
		return "", fmt.Errorf("not completing: %s", dec.Reason)
	}
	return "nothing to remove: " + dec.Reason, nil
}

// rollBackRevisions returns the cluster's revisions to where the failed
// rollout started, once the tag and the moved workloads are back: the
// canary this rollout started is removed.
func (r *run) rollBackRevisions(ctx context.Context) (string, error) {
	if r.Options.Revisions == nil || !r.revisionsChanged {
		return "", nil
	}
	dec, err := r.decideRevisions(ctx, false, true)
	if err != nil {
		return "", err
	}
	if dec.Kind != revisions.KindRollback {
		return "revisions left as they are: " + dec.Reason, nil
	}
	back := plan.Step{Phase: plan.PhaseRevision, Action: plan.ActionUpdate, Op: plan.OpSetRevisions, RevisionKind: dec.Kind, Revisions: dec.Revisions}
	if i := slices.IndexFunc(r.p.Steps, func(s plan.Step) bool { return s.Op == plan.OpSetRevisions }); i >= 0 {
		back.Target = r.p.Steps[i].Target
	}
	r.report(Event{Index: -1, Step: back, Status: StepRollback,
		Message: fmt.Sprintf("removing the canary: revisions back to [%s]", strings.Join(dec.Revisions, ", "))})
	op, err := r.startRevisions(ctx, dec.Kind, dec.Revisions)
	if err != nil {
		return "", err
	}
	if err := r.waitRevisions(ctx, op); err != nil {
		return "", err
	}
	return fmt.Sprintf("canary rolled back: revisions [%s]", strings.Join(dec.Revisions, ", ")), nil
}

func opKind(op revisions.Operation) string {
	if op.Kind == "" {
		return "revision"
	}
	return string(op.Kind)
}
