package reconcile

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/meshops/meshops/state"
)

// DefaultSchedule fetches and reconciles every five minutes. Polling stays
// on with webhooks: webhooks get lost.
const DefaultSchedule = "*/5 * * * *"

// Loop runs reconciles on a schedule and on triggers, never two at once.
// A trigger that arrives while a reconcile runs is kept, and any number of
// them make one follow-up run: the follow-up fetches the newest commit
// anyway.
type Loop struct {
	// Reconcile runs one reconcile; reason says what triggered it.
	Reconcile func(ctx context.Context, reason string) error
	// Schedule is when to reconcile without a trigger.
	Schedule cron.Schedule
	// Store, when set, records the next scheduled run for meshops status.
	Store *state.Store
	Log   *slog.Logger
	// Now is the clock; default time.Now.
	Now func() time.Time

	pending chan string
	// idle is told after every reconcile, for tests and readiness.
	idle chan struct{}
}

// ParseSchedule reads a cron spec (five fields, or descriptors such as
// @every 1m), naming the flag in its error.
func ParseSchedule(spec string) (cron.Schedule, error) {
	s, err := cron.ParseStandard(spec)
	if err != nil {
		return nil, fmt.Errorf("--schedule %q: %w (use a five-field cron spec such as %q, or @every 1m)", spec, err, DefaultSchedule)
	}
	return s, nil
}

func (l *Loop) init() {
	if l.pending == nil {
		l.pending = make(chan string, 1)
		l.idle = make(chan struct{}, 1)
	}
	if l.Now == nil {
		l.Now = time.Now
	}
	if l.Log == nil {
		l.Log = slog.New(slog.DiscardHandler)
	}
}

// Trigger asks for a reconcile soon. It never blocks: when a run is
// already pending, this one is coalesced into it.
func (l *Loop) Trigger(reason string) {
	select {
	case l.pending <- reason:
	default:
		l.Log.Debug("trigger coalesced into the pending reconcile", "trigger", reason)
	}
}

// New returns a loop ready for Trigger before Run starts.
func New(reconcile func(ctx context.Context, reason string) error, schedule cron.Schedule) *Loop {
	l := &Loop{Reconcile: reconcile, Schedule: schedule}
	l.init()
	return l
}

// Run reconciles once at start, then on the schedule and on triggers,
// until ctx ends. The reconcile under way when ctx ends sees it cancelled:
// the executor stops between steps and the next leader resumes.
func (l *Loop) Run(ctx context.Context) error {
	l.init()
	l.Trigger("start")
	for {
		next := l.Schedule.Next(l.Now())
		if l.Store != nil {
			if _, err := l.Store.Update(ctx, func(r *state.Record) { r.NextRun = next }); err != nil && ctx.Err() == nil {
				l.Log.Warn("recording the next run", "error", err)
			}
		}
		timer := time.NewTimer(time.Until(next))
		var reason string
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil
		case reason = <-l.pending:
		case <-timer.C:
			reason = "schedule"
		}
		timer.Stop()
		if err := l.Reconcile(ctx, reason); err != nil && ctx.Err() == nil {
			// The reconcile logged and recorded its error; the loop goes on.
			l.Log.Debug("reconcile ended with an error", "error", err)
		}
		select {
		case l.idle <- struct{}{}:
		default:
		}
	}
}
