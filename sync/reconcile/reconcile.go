// Package reconcile is meshops' GitOps engine: one reconcile fetches the
// config repo, plans against the live cluster and applies the plan; the
// loop runs reconciles on a schedule and on triggers (push webhooks), one
// at a time, coalescing what arrives while one runs.
package reconcile

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/record"

	"github.com/meshops/meshops/apply"
	"github.com/meshops/meshops/configs"
	"github.com/meshops/meshops/mesh"
	"github.com/meshops/meshops/plan"
	"github.com/meshops/meshops/redact"
	"github.com/meshops/meshops/state"
)

// Source brings the config repo to the revision to reconcile.
type Source interface {
	// Fetch updates the checkout and returns where it is and its commit.
	Fetch(ctx context.Context) (Checkout, error)
}

// Checkout is a config repo at one commit.
type Checkout struct {
	Path   string
	Commit string
}

// Options tune a Reconciler.
type Options struct {
	// Config locates the values and manifests in the checkout and names the
	// cluster; RepoPath is replaced by the checkout's path.
	Config configs.Options
	// ReportOnly plans and reports (drift, pending steps) but applies
	// nothing, like a suspended reconciler.
	ReportOnly bool
	// RetryBadRevision lets this reconciler try a revision that failed and
	// was rolled back at the same commit.
	RetryBadRevision bool
	// Log receives structured logs; default discards.
	Log *slog.Logger
	// Metrics, when set, are updated by every reconcile.
	Metrics *Metrics
	// Recorder, when set, receives Kubernetes Events for restarted
	// workloads and tag moves.
	Recorder record.EventRecorder
	// Executor edits the executor's options after they are read from the
	// config (tests shorten timeouts); may be nil.
	Executor func(*apply.Options)
}

// Reconciler runs one reconcile at a time against one cluster.
type Reconciler struct {
	Source  Source
	Cluster plan.Cluster
	Store   *state.Store
	Options Options
}

// Outcome is what one reconcile did.
type Outcome struct {
	Commit string
	Plan   *plan.Plan
	Result *apply.Result
	// Applied is false when the plan was only reported (suspended,
	// report-only, nothing to do).
	Applied bool
	Drift   bool
}

// Results as metrics and the record name them.
const (
	ResultSucceeded = "succeeded"
	ResultFailed    = "failed"
	ResultBlocked   = "blocked"
	ResultSuspended = "suspended"
	ResultNoop      = "noop"
)

// Reconcile fetches, plans and, unless suspended or report-only, applies.
// reason says what triggered it, for the logs.
func (r *Reconciler) Reconcile(ctx context.Context, reason string) (*Outcome, error) {
	start := time.Now()
	log := r.log().With("trigger", reason)
	out, result, err := r.reconcile(ctx, log)
	r.Options.Metrics.observeReconcile(result, time.Since(start))
	attrs := []any{"result", result, "duration", time.Since(start).Round(time.Millisecond).String()}
	if out != nil {
		attrs = append(attrs, "commit", out.Commit)
	}
	if err != nil {
		log.Error("reconcile", append(attrs, "error", err)...)
		return out, err
	}
	log.Info("reconcile", attrs...)
	return out, nil
}

func (r *Reconciler) log() *slog.Logger {
	if r.Options.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return r.Options.Log
}

func (r *Reconciler) reconcile(ctx context.Context, log *slog.Logger) (*Outcome, string, error) {
	m := r.Options.Metrics
	fetchStart := time.Now()
	co, err := r.Source.Fetch(ctx)
	if m != nil {
		m.GitFetchDuration.Observe(time.Since(fetchStart).Seconds())
	}
	if err != nil {
		if m != nil {
			m.GitFetchErrors.Inc()
		}
		return nil, ResultFailed, r.fail(ctx, "", fmt.Errorf("fetching the config repo: %w", err))
	}
	out := &Outcome{Commit: co.Commit}
	log = log.With("commit", co.Commit)

	opts := r.Options.Config
	opts.RepoPath = co.Path
	cfg, err := configs.Load(ctx, opts)
	if err != nil {
		return out, ResultFailed, r.fail(ctx, co.Commit, fmt.Errorf("config at %s: %w", co.Commit, err))
	}
	rec, err := r.Store.Load(ctx)
	if err != nil {
		return out, ResultFailed, err
	}
	if m != nil {
		m.Suspended.Set(boolGauge(rec.Suspended))
		m.observeCommit(rec.LastAppliedCommit)
	}
	p, err := plan.Compute(ctx, r.Cluster, cfg, plan.ComputeOptions{
		Commit: co.Commit, Record: rec, RetryBadRevision: r.Options.RetryBadRevision, Log: log,
	})
	if err != nil {
		return out, ResultFailed, r.fail(ctx, co.Commit, err)
	}
	out.Plan = p
	m.observePlan(p)
	if p.Scenario == plan.ScenarioDrift {
		out.Drift = true
		if m != nil {
			m.DriftDetected.Inc()
		}
		log.Warn("drift: managed objects differ from git at the applied commit", "steps", pendingSteps(p))
	}
	switch {
	case rec.Suspended:
		log.Info("suspended: plan reported, nothing applied", "scenario", p.Scenario, "pending", p.Pending())
		return out, ResultSuspended, nil
	case r.Options.ReportOnly:
		log.Info("report-only: plan reported, nothing applied", "scenario", p.Scenario, "pending", p.Pending())
		return out, ResultNoop, nil
	case !p.Pending() && !p.Blocked:
		if _, err := r.Store.Update(ctx, func(rec *state.Record) {
			rec.LastResult, rec.LastError, rec.LastRun = state.ResultSucceeded, "", time.Now()
			rec.LastAppliedCommit = co.Commit
		}); err != nil {
			return out, ResultFailed, err
		}
		m.observeCommit(co.Commit)
		return out, ResultNoop, nil
	}

	exOpts := apply.NewOptions(cfg)
	exOpts.Log = log
	exOpts.Progress = r.events(p, exOpts.IstioNamespace)
	if r.Options.Executor != nil {
		r.Options.Executor(&exOpts)
	}
	ex := &apply.Executor{Cluster: r.Cluster, Store: r.Store, Options: exOpts}
	res, err := ex.Execute(ctx, p, cfg)
	out.Result, out.Applied = res, true
	var blocked *apply.BlockedError
	switch {
	case errors.As(err, &blocked):
		return out, ResultBlocked, err
	case err != nil:
		return out, ResultFailed, err
	}
	m.observeCommit(co.Commit)
	return out, ResultSucceeded, nil
}

// fail records an error that stopped a reconcile before the executor ran.
func (r *Reconciler) fail(ctx context.Context, commit string, err error) error {
	if _, uerr := r.Store.Update(ctx, func(rec *state.Record) {
		rec.LastResult, rec.LastError, rec.LastRun = state.ResultFailed, err.Error(), time.Now()
	}); uerr != nil {
		return errors.Join(err, uerr)
	}
	return err
}

// events turns the executor's progress into restart metrics and
// Kubernetes Events on the objects meshops acts on.
func (r *Reconciler) events(p *plan.Plan, istioNamespace string) func(apply.Event) {
	return func(ev apply.Event) {
		if ev.Status != apply.StepDone && ev.Status != apply.StepFailed {
			return
		}
		switch ev.Step.Phase {
		case plan.PhaseRestarts:
			if m := r.Options.Metrics; m != nil {
				m.Restarts.WithLabelValues(string(ev.Status)).Inc()
			}
			r.event(workloadRef(ev.Step.Target), ev, "Restarted", "RestartFailed")
		case plan.PhaseTag:
			ref := &corev1.ObjectReference{Kind: "MutatingWebhookConfiguration", APIVersion: "admissionregistration.k8s.io/v1",
				Name: mesh.TagWebhookName(p.Tag, istioNamespace)}
			r.event(ref, ev, "TagMoved", "TagMoveFailed")
		}
	}
}

func (r *Reconciler) event(ref *corev1.ObjectReference, ev apply.Event, ok, failed string) {
	if r.Options.Recorder == nil || ref == nil {
		return
	}
	msg := "meshops: " + redact.Text(ev.Message)
	if ev.Status == apply.StepFailed {
		r.Options.Recorder.Event(ref, corev1.EventTypeWarning, failed, msg)
		return
	}
	r.Options.Recorder.Event(ref, corev1.EventTypeNormal, ok, msg)
}

// workloadRef turns Kind/namespace/name into an object reference.
func workloadRef(id string) *corev1.ObjectReference {
	parts := strings.SplitN(id, "/", 3)
	if len(parts) != 3 {
		return nil
	}
	return &corev1.ObjectReference{Kind: parts[0], APIVersion: "apps/v1", Namespace: parts[1], Name: parts[2]}
}

func pendingSteps(p *plan.Plan) int {
	n := 0
	for _, s := range p.Steps {
		if s.Changes() {
			n++
		}
	}
	return n
}

func boolGauge(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
