package reconcile

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"reflect"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/record"

	"github.com/meshops/meshops/apply"
	"github.com/meshops/meshops/configs"
	"github.com/meshops/meshops/mesh"
	"github.com/meshops/meshops/plan"
	"github.com/meshops/meshops/redact"
	"github.com/meshops/meshops/revisions"
	"github.com/meshops/meshops/revisions/aks"
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
	// Uncommitted: the checkout's working tree differs from Commit (a
	// checkout by hand, edited); its changes are changes, not drift.
	Uncommitted bool
	// Stale, when set, is why fetching the newest commit failed: the
	// checkout is the last one fetched, and the engine keeps enforcing it
	// (drift repair goes on while git is unreachable) and reports the error.
	Stale error
}

// Options tune a Reconciler. What differs between meshops plan, sync,
// sync --dry-run and run is only these options: the engine is the same.
type Options struct {
	// Config locates the values and manifests in the checkout and names the
	// cluster; RepoPath is replaced by the checkout's path.
	Config configs.Options
	// DryRun plans and returns the plan; it changes nothing in the cluster,
	// not even meshops' record (meshops plan, sync --dry-run).
	DryRun bool
	// ReportOnly plans and reports (drift, pending steps) but applies
	// nothing, like a suspended reconciler.
	ReportOnly bool
	// IgnoreSuspend applies although the cluster is suspended: only an
	// explicit request of a person (sync --ignore-suspend) sets it.
	IgnoreSuspend bool
	// RetryBadRevision lets this reconciler try a revision that failed and
	// was rolled back at the same commit.
	RetryBadRevision bool
	// ForceConflicts takes fields another field manager owns.
	ForceConflicts bool
	// AKS overrides where the aks revision provider finds the cluster and
	// ARM (flags and environment over meshops.yaml); used when
	// meshops.revisions.provider is aks.
	AKS aks.Options
	// RevisionsClient, when set, is the revision provider's client, used
	// instead of one built from AKS (tests).
	RevisionsClient revisions.Client
	// Lock is the writer lock every reconcile that may change the cluster
	// takes first (all but DryRun and ReportOnly); Lock.Wait is how long it
	// waits for another holder. Identity defaults to host/pid.
	Lock state.LockOptions
	// Log receives structured logs; default discards.
	Log *slog.Logger
	// Metrics, when set, are updated by every reconcile.
	Metrics *Metrics
	// Recorder, when set, receives Kubernetes Events for restarted
	// workloads and tag moves.
	Recorder record.EventRecorder
	// Planned, when set, is told the plan and the decision before anything
	// is applied (the CLI prints the plan there).
	Planned func(*plan.Plan, Decision)
	// Confirm, when set, is asked before a plan is executed (a person at
	// a terminal: meshops sync); false changes nothing and Reconcile
	// returns a DeclinedError. It is asked after a plan made without the
	// writer lock, so no other meshops waits on a person; the plan is then
	// made again under the lock, and executed only if it is the one
	// confirmed (else a PlanChangedError, and nothing is applied).
	Confirm func(*plan.Plan) (bool, error)
	// Progress, when set, is told of every executor step as it starts and
	// ends (the CLI prints a line for each).
	Progress func(apply.Event)
	// Executor edits the executor's options after they are read from the
	// config (tests shorten timeouts); may be nil.
	Executor func(*apply.Options)
}

// Reconciler runs one reconcile at a time against one cluster. Every entry
// point (meshops plan, sync, run, the tests) reconciles through it.
type Reconciler struct {
	Source  Source
	Cluster plan.Cluster
	Store   *state.Store
	// Connect, when set, provides Cluster and Store on the first reconcile
	// that needs them, after the config loaded: bad input is reported
	// without a cluster.
	Connect func() (plan.Cluster, *state.Store, error)
	Options Options
}

// Outcome is what one reconcile did.
type Outcome struct {
	Commit string
	// Config is the config the plan was made from.
	Config *configs.Config
	Plan   *plan.Plan
	// Decision is what was done with the plan.
	Decision Decision
	// Applied is what the executor did; nil unless Decision is execute.
	Applied *apply.Result
	// Result is the reconcile's result, as the record and metrics name it.
	Result state.Result
	Drift  bool
	// SourceError is why the newest commit could not be fetched, when the
	// reconcile went on with the last one.
	SourceError error
}

// SuspendedError is returned when a caller that must apply (meshops sync)
// finds the cluster suspended.
type SuspendedError struct{}

func (SuspendedError) Error() string {
	return "the cluster is suspended (meshops suspend): nothing applied; run meshops resume, or sync --ignore-suspend to apply anyway"
}

// DeclinedError is returned when Confirm said no: nothing was applied.
type DeclinedError struct{}

func (DeclinedError) Error() string { return "apply declined: nothing applied" }

// PlanChangedError is returned when the plan made under the writer lock is
// not the one Confirm approved: the cluster, meshops' record or another
// meshops changed something while a person decided. Nothing was applied.
type PlanChangedError struct {
	// Decision is what the new plan would have done.
	Decision Decision
}

func (e PlanChangedError) Error() string {
	return fmt.Sprintf("the plan changed while waiting for confirmation (now: %s): nothing applied; run meshops sync again to review the new plan", e.Decision)
}

// Reconcile fetches, plans and, as Decide says, applies. reason says what
// triggered it, for the logs.
func (r *Reconciler) Reconcile(ctx context.Context, reason string) (*Outcome, error) {
	start := time.Now()
	log := r.log().With("trigger", reason)
	out, err := r.reconcile(ctx, log)
	if err != nil && out.Result == "" {
		out.Result = state.ResultFailed
	}
	r.Options.Metrics.observeReconcile(string(out.Result), time.Since(start))
	attrs := []any{"result", out.Result, "duration", time.Since(start).Round(time.Millisecond).String()}
	if out.Commit != "" {
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

func (r *Reconciler) reconcile(ctx context.Context, log *slog.Logger) (*Outcome, error) {
	out := &Outcome{}
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
		return out, r.fail(ctx, fmt.Errorf("fetching the config repo: %w", err))
	}
	out.Commit = co.Commit
	log = log.With("commit", co.Commit)
	if co.Stale != nil {
		out.SourceError = co.Stale
		if m != nil {
			m.GitFetchErrors.Inc()
		}
		log.Warn("fetching the config repo failed: reconciling the last fetched commit", "error", co.Stale)
	}

	opts := r.Options.Config
	opts.RepoPath = co.Path
	cfg, err := configs.Load(ctx, opts)
	if err != nil {
		return out, r.fail(ctx, fmt.Errorf("%s: %w", describeCheckout(co), err))
	}
	out.Config = cfg
	if err := r.connect(); err != nil {
		return out, err
	}
	confirmed, err := r.confirm(ctx, co, cfg, out, log)
	if err != nil {
		return out, err
	}
	if !r.Options.DryRun && !r.Options.ReportOnly {
		// One writer at a time: the plan is made under the lock, so a
		// second meshops plans only after the first is done.
		held, err := r.Store.Lock(ctx, r.lockOptions())
		if err != nil {
			return out, err
		}
		defer func() {
			if err := held.Release(context.WithoutCancel(ctx)); err != nil {
				log.Warn("releasing the writer lock", "error", err)
			}
		}()
		var stop context.CancelCauseFunc
		ctx, stop = context.WithCancelCause(ctx)
		defer stop(nil)
		go func() {
			select {
			case <-held.Lost():
				// Another writer may act now: stop where we are; the next
				// run resumes.
				stop(held.Err())
			case <-ctx.Done():
			}
		}()
	}
	rec, err := r.Store.Load(ctx)
	if err != nil {
		return out, err
	}
	if err := r.recordSource(ctx, rec, co.Stale); err != nil {
		return out, err
	}
	if m != nil {
		m.Suspended.Set(boolGauge(rec.Suspended))
		m.observeCommit(rec.LastAppliedCommit)
	}
	p, revs, err := r.plan(ctx, co, cfg, rec, log)
	if err != nil {
		return out, r.fail(ctx, err)
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
	out.Decision = r.decide(rec, p)
	switch {
	case confirmed != nil && (out.Decision != DecisionExecute || !samePlan(confirmed, p)):
		log.Warn("the plan changed while waiting for confirmation: nothing applied", "decision", out.Decision)
		out.Result = state.ResultNoop
		return out, PlanChangedError{Decision: out.Decision}
	case confirmed == nil && r.Options.Planned != nil:
		r.Options.Planned(p, out.Decision)
	}
	switch out.Decision {
	case DecisionDryRun, DecisionReportOnly:
		log.Info(string(out.Decision)+": plan reported, nothing applied", "scenario", p.Scenario, "pending", p.Pending())
		out.Result = state.ResultNoop
		return out, nil
	case DecisionSuspended:
		log.Info("suspended: plan reported, nothing applied", "scenario", p.Scenario, "pending", p.Pending())
		out.Result = state.ResultSuspended
		return out, r.record(ctx, state.ResultSuspended, "", "")
	case DecisionBlocked:
		out.Result = state.ResultBlocked
		return out, errors.Join(&apply.BlockedError{Plan: p}, r.record(ctx, state.ResultBlocked, p.Reason, ""))
	case DecisionNothingToDo:
		out.Result = state.ResultNoop
		if err := r.record(ctx, state.ResultSucceeded, "", co.Commit); err != nil {
			return out, err
		}
		m.observeCommit(co.Commit)
		return out, nil
	}

	exOpts := apply.NewOptions(cfg)
	exOpts.Log = log
	exOpts.ForceConflicts = r.Options.ForceConflicts
	exOpts.Revisions = revs
	exOpts.Progress = r.progress(p, exOpts.IstioNamespace)
	if r.Options.Executor != nil {
		r.Options.Executor(&exOpts)
	}
	ex := &apply.Executor{Cluster: r.Cluster, Store: r.Store, Options: exOpts}
	res, err := ex.Execute(ctx, p, cfg)
	out.Applied = res
	switch {
	case errors.As(err, new(*apply.SuspendedError)):
		out.Result = state.ResultSuspended
		return out, err
	case err != nil && res.RolledBack:
		out.Result = state.ResultRolledBack
		return out, err
	case err != nil:
		out.Result = state.ResultFailed
		return out, err
	}
	out.Result = state.ResultSucceeded
	m.observeCommit(co.Commit)
	return out, nil
}

// plan computes the plan of cfg at co against the cluster and rec, with
// the revision provider's client it was made with.
func (r *Reconciler) plan(ctx context.Context, co Checkout, cfg *configs.Config, rec *state.Record, log *slog.Logger) (*plan.Plan, revisions.Client, error) {
	revs, err := r.revisionsClient(cfg)
	if err != nil {
		return nil, nil, err
	}
	p, err := plan.Compute(ctx, r.Cluster, cfg, plan.ComputeOptions{
		Commit: co.Commit, Uncommitted: co.Uncommitted, Record: rec, RetryBadRevision: r.Options.RetryBadRevision, Log: log, Revisions: revs,
	})
	return p, revs, err
}

// decide applies Decide to this reconciler's options, the record and p.
func (r *Reconciler) decide(rec *state.Record, p *plan.Plan) Decision {
	return Decide(Facts{
		DryRun: r.Options.DryRun, ReportOnly: r.Options.ReportOnly, IgnoreSuspend: r.Options.IgnoreSuspend,
		Suspended: rec.Suspended, Pending: p.Pending(), Blocked: p.Blocked,
	})
}

// confirm asks Options.Confirm, when set and the reconcile may write,
// about a plan made without the writer lock: a person may take minutes to
// answer, and another meshops must not wait on them meanwhile. It returns
// the plan confirmed, or nil when nothing was asked (the plan would not
// be executed, so the reconcile goes on as without Confirm). It changes
// nothing in the cluster; a failure to plan is recorded as without Confirm.
func (r *Reconciler) confirm(ctx context.Context, co Checkout, cfg *configs.Config, out *Outcome, log *slog.Logger) (*plan.Plan, error) {
	if r.Options.Confirm == nil || r.Options.DryRun || r.Options.ReportOnly {
		return nil, nil
	}
	rec, err := r.Store.Load(ctx)
	if err != nil {
		return nil, err
	}
	p, _, err := r.plan(ctx, co, cfg, rec, log)
	if err != nil {
		return nil, r.fail(ctx, err)
	}
	if r.decide(rec, p) != DecisionExecute {
		return nil, nil
	}
	if r.Options.Planned != nil {
		r.Options.Planned(p, DecisionExecute)
	}
	ok, err := r.Options.Confirm(p)
	if err != nil {
		return nil, fmt.Errorf("asking for confirmation: %w", err)
	}
	if !ok {
		out.Plan, out.Decision, out.Result = p, DecisionDeclined, state.ResultNoop
		log.Info("apply declined: nothing applied", "pending", pendingSteps(p))
		return nil, DeclinedError{}
	}
	return p, nil
}

// samePlan says whether b would do what a does: the same commit, target
// and steps (each with its reason and diff), as a person confirmed it.
func samePlan(a, b *plan.Plan) bool {
	return a.Commit == b.Commit && a.Target == b.Target && a.From == b.From && a.Tag == b.Tag &&
		a.Blocked == b.Blocked && reflect.DeepEqual(a.Steps, b.Steps)
}

// revisionsClient is the revision provider's client the config asks for:
// nil when someone else installs the revisions.
func (r *Reconciler) revisionsClient(cfg *configs.Config) (revisions.Client, error) {
	if cfg.Settings.Extensions.Revisions.Provider != revisions.ProviderAKS {
		return nil, nil
	}
	if r.Options.RevisionsClient != nil {
		return r.Options.RevisionsClient, nil
	}
	c, err := aks.New(AKSOptions(cfg, r.Options.AKS))
	if err != nil {
		return nil, fmt.Errorf("the aks revision provider: %w", err)
	}
	return c, nil
}

// AKSOptions are the aks provider's options for cfg: its defaults, then
// the cluster meshops.yaml names, then every field set in overrides (the
// environment and flags).
func AKSOptions(cfg *configs.Config, overrides aks.Options) aks.Options {
	o := aks.DefaultOptions()
	o.SubscriptionID, o.ResourceGroup, o.Cluster = cfg.AKS.SubscriptionID, cfg.AKS.ResourceGroup, cfg.AKS.Name
	o.RevisionPattern = cfg.RevisionPattern()
	for _, f := range []struct{ dst, src *string }{
		{&o.SubscriptionID, &overrides.SubscriptionID}, {&o.ResourceGroup, &overrides.ResourceGroup},
		{&o.Cluster, &overrides.Cluster}, {&o.ARMEndpoint, &overrides.ARMEndpoint}, {&o.ARMAudience, &overrides.ARMAudience},
		{&o.AuthorityHost, &overrides.AuthorityHost}, {&o.CAFile, &overrides.CAFile},
	} {
		if *f.src != "" {
			*f.dst = *f.src
		}
	}
	if overrides.Credential != nil {
		o.Credential = overrides.Credential
	}
	if overrides.PollFrequency > 0 {
		o.PollFrequency = overrides.PollFrequency
	}
	return o
}

// lockOptions fills in who holds the lock: host and process.
func (r *Reconciler) lockOptions() state.LockOptions {
	o := r.Options.Lock
	if o.Identity == "" {
		host, _ := os.Hostname()
		o.Identity = fmt.Sprintf("%s/%d", host, os.Getpid())
	}
	return o
}

// recordSource keeps the record's word on the git source current: the
// fetch error while the reconcile goes on with the last commit, nothing
// once a fetch works again. Written only when it changes, never by a dry
// run.
func (r *Reconciler) recordSource(ctx context.Context, rec *state.Record, stale error) error {
	msg := ""
	if stale != nil {
		// Masked as the record stores it, so an unchanged error compares
		// equal and is not written again.
		msg = redact.Text(stale.Error())
	}
	if r.Options.DryRun || r.Options.ReportOnly || rec.SourceError == msg {
		return nil
	}
	_, err := r.Store.Update(ctx, func(rec *state.Record) {
		if rec.SourceError == "" || msg == "" {
			rec.SourceErrorSince = time.Now()
		}
		rec.SourceError = msg
		if msg == "" {
			rec.SourceErrorSince = time.Time{}
		}
	})
	return err
}

// connect resolves the cluster once, after the config loaded.
func (r *Reconciler) connect() error {
	if r.Store != nil || r.Connect == nil {
		return nil
	}
	c, store, err := r.Connect()
	if err != nil {
		return err
	}
	r.Cluster, r.Store = c, store
	return nil
}

// describeCheckout names a checkout in errors: the commit, or the folder
// of a working tree outside git.
func describeCheckout(co Checkout) string {
	if co.Commit != "" {
		return "config at " + co.Commit
	}
	return co.Path
}

// record writes the result of a run that did not reach the executor. A
// dry run never calls it.
func (r *Reconciler) record(ctx context.Context, result state.Result, msg, applied string) error {
	_, err := r.Store.Update(ctx, func(rec *state.Record) {
		rec.LastResult, rec.LastError, rec.LastRun = result, msg, time.Now()
		if applied != "" {
			rec.LastAppliedCommit = applied
		}
	})
	return err
}

// fail records an error that stopped a reconcile before the executor ran,
// in a record that exists already: bad input never creates anything, and
// a dry run writes nothing.
func (r *Reconciler) fail(ctx context.Context, err error) error {
	if r.Options.DryRun || r.Store == nil {
		return err
	}
	if _, uerr := r.Store.UpdateExisting(ctx, func(rec *state.Record) {
		rec.LastResult, rec.LastError, rec.LastRun = state.ResultFailed, err.Error(), time.Now()
	}); uerr != nil {
		return errors.Join(err, uerr)
	}
	return err
}

// progress passes the executor's events to the caller, and turns them into
// restart metrics and Kubernetes Events on the objects meshops acts on.
func (r *Reconciler) progress(p *plan.Plan, istioNamespace string) func(apply.Event) {
	return func(ev apply.Event) {
		if r.Options.Progress != nil {
			r.Options.Progress(ev)
		}
		if ev.Status != apply.StepDone && ev.Status != apply.StepFailed {
			return
		}
		switch ev.Step.Op {
		case plan.OpRestart, plan.OpDeletePod:
			if m := r.Options.Metrics; m != nil {
				m.Restarts.WithLabelValues(string(ev.Status)).Inc()
			}
			if w := ev.Step.Target.Workload; w != nil {
				r.event(&corev1.ObjectReference{Kind: string(w.Kind), APIVersion: w.APIVersion(), Namespace: w.Namespace, Name: w.Name},
					ev, "Restarted", "RestartFailed")
			}
		case plan.OpSetTag:
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
