package apply

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fluxcd/cli-utils/pkg/object"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/meshops/meshops/configs"
	"github.com/meshops/meshops/mesh"
	"github.com/meshops/meshops/plan"
	"github.com/meshops/meshops/ref"
	"github.com/meshops/meshops/revisions"
	"github.com/meshops/meshops/state"
)

// Options tune the executor. Zero values take the documented defaults;
// NewOptions fills them from the config repo's settings.
type Options struct {
	// IstioNamespace runs istiod and its webhooks. The defaults of every
	// field are in DefaultOptions.
	IstioNamespace string
	// IngressNamespace runs the ingress gateway checked by verify. Default
	// aks-istio-ingress; verify skips the check when it holds no gateway.
	IngressNamespace string
	// MinReadyIstiod is the target's ready-replica floor for the gate. Default 1.
	MinReadyIstiod int32
	// Restart is the restart policy: the cap of workloads at once, the
	// mesh-wide pod budget and the starting window, per-workload and
	// overall timeouts (defaults configs.DefaultRestart*), bare pods.
	Restart configs.Restart
	// AutoRollback moves the tag and the moved workloads back when the
	// rollout fails after the tag moved.
	AutoRollback bool
	// ForceConflicts takes fields another field manager owns; without it a
	// conflict stops the apply naming the manager and field.
	ForceConflicts bool
	// PollInterval is how often rollouts and gates are re-read. Default 250ms.
	PollInterval time.Duration
	// Revisions drives the control-plane revisions (the aks provider); nil
	// when someone else installs them.
	Revisions revisions.Client
	// RevisionReadyTimeout bounds the gate's wait for a revision the plan
	// installed or started to become healthy. Default 15m.
	RevisionReadyTimeout time.Duration
	// TargetCheckInterval is how often the target's istiod is checked while
	// workloads restart onto it; ProbeInterval how often, at most, the
	// injection probe runs then. Defaults 2s and 15s.
	TargetCheckInterval, ProbeInterval time.Duration
	// ProbeNamespace holds the pre-flip revision probe: a namespace with no
	// mesh label. Default the state store's namespace.
	ProbeNamespace string
	// Log receives structured progress; default discards.
	Log *slog.Logger
	// Progress is told of every step as it starts and ends (the CLI prints
	// a line for each); may be nil.
	Progress func(Event)
}

// DefaultOptions are the executor's defaults; a zero field of the Options
// given to an Executor takes the value here.
func DefaultOptions() Options {
	return Options{
		IstioNamespace:   mesh.AKSIstioNamespace,
		IngressNamespace: configs.DefaultIngressGatewayNamespace,
		MinReadyIstiod:   1,
		Restart: configs.Restart{
			BatchSize:       configs.DefaultRestartBatchSize,
			MaxUnavailable:  intstr.FromString(configs.DefaultRestartMaxUnavailable),
			InitialBatch:    configs.DefaultRestartInitialBatch,
			WorkloadTimeout: configs.DefaultRestartWorkloadTimeout,
			Timeout:         configs.DefaultRestartTimeout,
		},
		PollInterval:         250 * time.Millisecond,
		TargetCheckInterval:  2 * time.Second,
		RevisionReadyTimeout: 15 * time.Minute,
		ProbeInterval:        15 * time.Second,
		Log:                  slog.New(slog.DiscardHandler),
	}
}

// NewOptions reads the executor's settings from the config repo.
func NewOptions(cfg *configs.Config) Options {
	ext := cfg.Settings.Extensions
	o := DefaultOptions()
	o.IstioNamespace, o.IngressNamespace = ext.IstioSystemNamespace, ext.IngressGatewayNamespace
	o.MinReadyIstiod, o.Restart, o.AutoRollback = int32(ext.MinReadyIstiod), ext.Restart, ext.AutoRollback
	o.withDefaults()
	return o
}

// withDefaults fills every zero field from DefaultOptions.
func (o *Options) withDefaults() {
	d := DefaultOptions()
	if o.IstioNamespace == "" {
		o.IstioNamespace = d.IstioNamespace
	}
	if o.IngressNamespace == "" {
		o.IngressNamespace = d.IngressNamespace
	}
	if o.MinReadyIstiod < 1 {
		o.MinReadyIstiod = d.MinReadyIstiod
	}
	if o.Restart.BatchSize < 1 {
		o.Restart.BatchSize = d.Restart.BatchSize
	}
	if o.Restart.MaxUnavailable == (intstr.IntOrString{}) {
		o.Restart.MaxUnavailable = d.Restart.MaxUnavailable
	}
	if o.Restart.InitialBatch < 1 {
		o.Restart.InitialBatch = d.Restart.InitialBatch
	}
	if o.Restart.WorkloadTimeout <= 0 {
		o.Restart.WorkloadTimeout = d.Restart.WorkloadTimeout
	}
	if o.Restart.Timeout <= 0 {
		o.Restart.Timeout = d.Restart.Timeout
	}
	if o.PollInterval <= 0 {
		o.PollInterval = d.PollInterval
	}
	if o.RevisionReadyTimeout <= 0 {
		o.RevisionReadyTimeout = d.RevisionReadyTimeout
	}
	if o.TargetCheckInterval <= 0 {
		o.TargetCheckInterval = d.TargetCheckInterval
	}
	if o.ProbeInterval <= 0 {
		o.ProbeInterval = d.ProbeInterval
	}
	if o.Log == nil {
		o.Log = d.Log
	}
}

// EventStatus is where a step is.
type EventStatus string

const (
	StepStarted  EventStatus = "started"
	StepDone     EventStatus = "done"
	StepSkipped  EventStatus = "skipped"
	StepFailed   EventStatus = "failed"
	StepRollback EventStatus = "rollback"
	// StepWaiting reports, for a step under way, what it waits for now
	// (Message, e.g. "1 of 3 updated replicas are available"); sent each
	// time that changes, so a live view can show it.
	StepWaiting EventStatus = "waiting"
)

// Event reports one step's progress.
type Event struct {
	Index   int
	Step    plan.Step
	Status  EventStatus
	Elapsed time.Duration
	Message string
}

// Executor runs plans against one cluster.
type Executor struct {
	Cluster plan.Cluster
	Store   *state.Store
	Options Options
}

// Result is what one Execute did.
type Result struct {
	Applied, Labelled, Restarted, Pruned int
	TagMoved                             bool
	RolledBack                           bool
	Duration                             time.Duration
}

// BlockedError is returned for a blocked plan; nothing was changed.
type BlockedError struct{ Plan *plan.Plan }

func (e *BlockedError) Error() string {
	return fmt.Sprintf("plan blocked (%s): %s", e.Plan.Scenario, e.Plan.Reason)
}

// run is the state of one Execute.
type run struct {
	*Executor
	p   *plan.Plan
	cfg *configs.Config
	log *slog.Logger
	res Result
	// from is the revision a rollback returns to: the plan's, or that of
	// the interrupted rollout this run resumes.
	from string
	// gated is set once the target passed the gate in this run: nothing
	// moves the tag or restarts a workload before it.
	gated bool
	// tagMoved is set once this run moved the tag, for rollback.
	tagMoved bool
	// revisionsChanged is set once this run changed the revisions (or
	// followed a change a crashed run started): the gate waits for the
	// target, and a rollback returns the revisions too.
	revisionsChanged bool
	// verified is set once verify passed in this run: only then may a
	// revision be removed.
	verified bool
	// unhealthyFailed are the workloads, broken before the upgrade, whose
	// restart did not bring them up either; mu guards it.
	unhealthyFailed []ref.Workload
	// restarted are the workloads moved to the target by this rollout
	// (this run, or the interrupted one it resumes), in order. mu guards it
	// and res against the restart workers.
	restarted []ref.Workload
	// recorded is how many of restarted the record in the cluster holds;
	// mu guards it too. recordMu lets one record write run at a time.
	recorded int
	mu       sync.Mutex
	recordMu sync.Mutex
	// watches are the restart phase's shared watches while it runs.
	watches atomic.Pointer[sharedWatches]
	// suspendSeen is set once a record write found the cluster suspended.
	suspendSeen atomic.Bool
	// byObject indexes cfg.Manifests by object, for manifest.
	byObject  map[object.ObjMetadata]int
	indexOnce sync.Once
}

// Execute makes p true. cfg must be the config p was planned from. On
// failure after the tag moved, with AutoRollback, the tag and the
// workloads already moved go back and the target is remembered as bad.
func (e *Executor) Execute(ctx context.Context, p *plan.Plan, cfg *configs.Config) (*Result, error) {
	e.Options.withDefaults()
	if e.Options.ProbeNamespace == "" {
		e.Options.ProbeNamespace = e.Cluster.OwnerNamespace
	}
	start := time.Now()
	r := &run{Executor: e, p: p, cfg: cfg, from: p.From, log: e.Options.Log.With("target", p.Target)}
	if p.Blocked {
		_, err := e.Store.Update(ctx, func(rec *state.Record) {
			rec.LastResult, rec.LastError, rec.LastRun = state.ResultBlocked, p.Reason, time.Now()
		})
		return &r.res, errors.Join(&BlockedError{Plan: p}, err)
	}
	// Field conflicts are bad input: found before anything changes.
	if err := r.preflight(ctx); err != nil {
		return &r.res, err
	}
	if err := r.begin(ctx); err != nil {
		return &r.res, err
	}
	err := r.steps(ctx)
	// A cancelled run (SIGTERM, kill, a lost writer lock) or a suspended
	// one is resumed by the next run, not rolled back.
	var suspended *SuspendedError
	if err != nil && ctx.Err() == nil && !errors.As(err, &suspended) && r.shouldRollBack() {
		err = r.rollBack(ctx, err)
	}
	if err == nil && len(r.unhealthyFailed) > 0 {
		err = &UnhealthyBeforeError{Target: r.p.Target, Workloads: r.unhealthyFailed}
	}
	r.res.Duration = time.Since(start)
	return &r.res, errors.Join(err, r.finish(ctx, err))
}

// digest identifies a plan by its steps, so a record shows which plan a
// progress belongs to.
func digest(p *plan.Plan) string {
	h := sha256.New()
	_ = json.NewEncoder(h).Encode(struct {
		Commit, Target string
		Steps          []plan.Step
	}{p.Commit, p.Target, p.Steps})
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// begin records the rollout's start. A rollout to the same target that was
// interrupted is resumed: the workloads it already moved stay on its list,
// so a rollback can still return them.
func (r *run) begin(ctx context.Context) error {
	rec, err := r.Store.Update(ctx, func(rec *state.Record) {
		prev := rec.Progress
		if prev != nil && prev.Finished.IsZero() && prev.Target == r.p.Target {
			prev.Commit, prev.PlanDigest = r.p.Commit, digest(r.p)
			return
		}
		rec.Progress = &state.Progress{Commit: r.p.Commit, PlanDigest: digest(r.p), From: r.p.From, Target: r.p.Target, Started: time.Now()}
	})
	if err != nil {
		return err
	}
	// Objects count as applied before any is: one created by a run that
	// later fails is still pruned once it leaves git.
	if _, err := r.Store.Update(ctx, func(rec *state.Record) {
		rec.Inventory = rec.Inventory.Union(inventory(r.cfg.Manifests))
	}); err != nil {
		return err
	}
	r.restarted = slices.Clone(rec.Progress.Restarted)
	r.recorded = len(r.restarted)
	if rec.Progress.From != "" && rec.Progress.From != r.p.Target {
		// The tag's previous revision is where a rollback returns, even when
		// the resumed run finds the tag already moved.
		r.from = rec.Progress.From
	}
	if len(r.restarted) > 0 {
		r.log.Info("resuming an interrupted rollout", "moved", len(r.restarted))
	}
	return nil
}

func (r *run) steps(ctx context.Context) error {
	restartsAt := -1
	for i, s := range r.p.Steps {
		if s.Op == plan.OpRestart || s.Op == plan.OpDeletePod {
			// Restarts run as one batched phase.
			if restartsAt < 0 {
				restartsAt = i
				if err := r.restarts(ctx, i); err != nil {
					return err
				}
			}
			continue
		}
		if err := r.step(ctx, i, s); err != nil {
			return err
		}
	}
	return nil
}

func (r *run) step(ctx context.Context, i int, s plan.Step) error {
	start := time.Now()
	r.report(Event{Index: i, Step: s, Status: StepStarted})
	// Object applies are idempotent and may number thousands: the record
	// follows only the steps a resume must know about.
	if s.Op != plan.OpApply && s.Op != plan.OpAnnotate {
		if err := r.progress(ctx, i, s.Target.String()); err != nil {
			return err
		}
	}
	msg, err := r.do(ctx, s)
	ev := Event{Index: i, Step: s, Status: StepDone, Elapsed: time.Since(start), Message: msg}
	if err != nil {
		ev.Status, ev.Message = StepFailed, err.Error()
		r.report(ev)
		return fmt.Errorf("step %d (%s %s %s): %w", i+1, s.Phase, s.Action, s.Target, err)
	}
	r.report(ev)
	return nil
}

func (r *run) do(ctx context.Context, s plan.Step) (string, error) {
	switch s.Op {
	case plan.OpValidate:
		return "validated when planned", nil
	case plan.OpGate:
		return r.gate(ctx)
	case plan.OpApply:
		return r.applyObject(ctx, s)
	case plan.OpAnnotate:
		return r.annotateIngress(ctx, s)
	case plan.OpLabel:
		return r.labelNamespace(ctx, s)
	case plan.OpCreateNamespace:
		return r.createNamespace(ctx, s)
	case plan.OpSetTag:
		return r.moveTag(ctx)
	case plan.OpVerify:
		return r.verify(ctx)
	case plan.OpPrune:
		return r.prune(ctx, s)
	case plan.OpSetRevisions:
		return r.setRevisions(ctx, s)
	case plan.OpCompleteRevisions:
		return r.completeRevisions(ctx)
	}
	return "", fmt.Errorf("the executor does not know step %q (%s); update meshops", s.Op, s.Target)
}

func (r *run) report(ev Event) {
	if r.Options.Progress != nil {
		r.Options.Progress(ev)
	}
	attrs := []any{"step", ev.Index + 1, "phase", ev.Step.Phase, "action", ev.Step.Action, "target", ev.Step.Target.String(), "status", ev.Status}
	if ev.Elapsed > 0 {
		attrs = append(attrs, "elapsed", ev.Elapsed.Round(time.Millisecond).String())
	}
	if ev.Message != "" {
		attrs = append(attrs, "message", ev.Message)
	}
	r.log.Debug("step", attrs...)
}

func (r *run) progress(ctx context.Context, i int, target string) error {
	_, err := r.Store.Update(ctx, func(rec *state.Record) {
		if rec.Progress != nil {
			rec.Progress.Step, rec.Progress.StepTarget = i, target
		}
	})
	return err
}

// finish records the outcome. On success the inventory becomes exactly
// what git holds and the commit counts as applied.
func (r *run) finish(ctx context.Context, runErr error) error {
	_, err := r.Store.Update(ctx, func(rec *state.Record) {
		rec.LastRun = time.Now()
		if rec.Progress != nil {
			rec.Progress.Restarted = r.restarted
		}
		switch {
		case runErr == nil:
			rec.LastAppliedCommit, rec.LastResult, rec.LastError = r.p.Commit, state.ResultSucceeded, ""
			rec.Inventory = inventory(r.cfg.Manifests)
			delete(rec.BadRevisions, r.p.Target)
			if rec.Progress != nil {
				rec.Progress.Finished = time.Now()
			}
		case errors.As(runErr, new(*SuspendedError)):
			// The progress stays open: resume continues it.
			rec.LastResult, rec.LastError = state.ResultSuspended, runErr.Error()
		case r.res.RolledBack:
			rec.LastResult, rec.LastError = state.ResultRolledBack, runErr.Error()
			if rec.BadRevisions == nil {
				rec.BadRevisions = map[string]state.BadRevision{}
			}
			rec.BadRevisions[r.p.Target] = state.BadRevision{Commit: r.p.Commit, Error: runErr.Error(), Time: time.Now()}
			if rec.Progress != nil {
				rec.Progress.Finished = time.Now()
			}
		default:
			// The progress stays open: a re-run resumes it.
			rec.LastResult, rec.LastError = state.ResultFailed, runErr.Error()
		}
	})
	return err
}

func inventory(manifests []configs.Manifest) object.ObjMetadataSet {
	out := make(object.ObjMetadataSet, 0, len(manifests))
	for _, m := range manifests {
		out = append(out, m.ObjMetadata())
	}
	return out
}

// key is the object key of a workload ID.
func key(namespace, name string) client.ObjectKey {
	return client.ObjectKey{Namespace: namespace, Name: name}
}
