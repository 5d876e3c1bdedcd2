package plan

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/fluxcd/pkg/ssa"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/meshops/meshops/configs"
	"github.com/meshops/meshops/observe"
	"github.com/meshops/meshops/revisions"
	"github.com/meshops/meshops/state"
)

// Cluster is how the planner reads the cluster: a client for lists and the
// injection probe, and the resource manager for server-side dry runs.
type Cluster struct {
	Client client.Client
	RM     *ssa.ResourceManager
	// Config is the REST config Client was made from; with it the diff
	// streams live objects as their JSON (DiffManifests). nil: through
	// Client, decoded.
	Config *rest.Config
	// FieldManager is RM's server-side apply field manager, for the
	// applies that do not go through RM (namespace labels).
	FieldManager string
	// Owner is the name and namespace stamped on every applied object
	// (fluxcd/pkg/ssa owner labels); pruning deletes only objects that
	// carry them.
	OwnerName, OwnerNamespace string
}

// ComputeOptions are what the planner needs besides the config.
type ComputeOptions struct {
	// Commit is the config commit being planned ("" outside git);
	// Uncommitted: the working tree holds changes on top of it.
	Commit      string
	Uncommitted bool
	// Record is meshops' state in the cluster (last commit, inventory, bad
	// revisions); nil plans as if meshops never ran here.
	Record           *state.Record
	RetryBadRevision bool
	Log              *slog.Logger
	// Revisions drives the control-plane revisions (the aks provider);
	// nil when someone else installs them.
	Revisions revisions.Client
	// Now is the time of the plan, for the canary's soak; default now.
	Now time.Time
}

// Compute observes the cluster, diffs the config against it by server-side
// dry run, probes injection and builds the plan. It changes nothing.
func Compute(ctx context.Context, c Cluster, cfg *configs.Config, opts ComputeOptions) (*Plan, error) {
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	rec := opts.Record
	if rec == nil {
		rec = &state.Record{}
	}
	ext := cfg.Settings.Extensions
	// The managed objects are streamed and compared while the rest of the
	// cluster is observed: the reads are independent, and on a fleet each
	// is a good part of the plan's time.
	liveCtx, stopLive := context.WithCancel(ctx)
	defer stopLive()
	compared := make(chan liveComparison, 1)
	go func() { compared <- compareLive(liveCtx, c.RM.Client(), c.Config, cfg.Manifests, c.ownerLabels()) }()
	snap, err := observe.Observe(ctx, c.Client, observe.Options{IstioNamespace: ext.IstioSystemNamespace,
		IngressNamespace: ext.IngressGatewayNamespace, IngressService: ext.IngressGatewayService})
	if err != nil {
		stopLive()
		<-compared
		return nil, fmt.Errorf("observing the cluster: %w", err)
	}
	cmp := <-compared
	// Every manifest in a missing namespace would fail its dry run with
	// "not found": say it once instead, and plan nothing else.
	missing := MissingNamespaces(cfg, snap)
	var objects []ObjectChange
	switch {
	case len(missing) == 0:
		objects, err = diffCompared(ctx, c.RM, cfg.Manifests, cmp, c.ownerLabels())
	case ext.CreateNamespaces:
		// Objects in a namespace still to be created cannot be dry-run:
		// they are created, as the manifest says.
		objects, err = diffCreating(ctx, c, cfg.Manifests, cmp, missing)
	}
	if err != nil {
		return nil, fmt.Errorf("dry-run of the manifests:\n%w", err)
	}
	in := Inputs{
		Config: cfg, Snapshot: snap, Objects: objects, MissingNamespaces: missing,
		Commit: opts.Commit, Uncommitted: opts.Uncommitted, LastApplied: rec.LastAppliedCommit,
		Inventory: rec.Inventory, BadRevisions: rec.BadRevisions, RetryBadRevision: opts.RetryBadRevision,
	}
	// The probe shows the proxy image the tag injects today: only
	// meaningful once the tag is on the target.
	if t, ok := snap.Tags[cfg.Istio.Tag]; ok && t.Revision == cfg.Istio.Target.Name {
		for _, ns := range ext.Namespaces {
			if snap.Namespaces[ns].Rev != cfg.Istio.Tag {
				continue
			}
			probe, err := observe.Probe(ctx, c.Client, ns)
			if err != nil {
				log.Warn("injection probe failed", "namespace", ns, "error", err)
				break
			}
			in.Probe = &probe
			break
		}
	}
	if opts.Revisions != nil {
		var pending *revisions.Operation
		var canaryStarted time.Time
		if rec.Revisions != nil {
			pending, canaryStarted = rec.Revisions.Operation, rec.Revisions.CanaryStarted
		}
		st, err := opts.Revisions.Observe(ctx, pending)
		if err != nil {
			return nil, fmt.Errorf("observing the revisions: %w", err)
		}
		now := opts.Now
		if now.IsZero() {
			now = time.Now()
		}
		d := DesiredRevisions(cfg.DesiredRevisions(), snap, cfg.Istio.Tag, canaryStarted, now)
		in.Revisions = &Revisions{State: st, Desired: d, Decision: revisions.Decide(st, d)}
	}
	p := Build(in)
	p.Snapshot = snap
	return p, nil
}

// Owned returns the manifests with meshops' owner labels, as they are
// applied.
func Owned(c Cluster, manifests []configs.Manifest) []configs.Manifest {
	owner := c.ownerLabels()
	out := make([]configs.Manifest, len(manifests))
	for i, m := range manifests {
		out[i] = m.WithLabels(owner)
	}
	return out
}

// ownerLabels are the labels every object applied to c carries
// (fluxcd/pkg/ssa's owner labels); nil without an owner.
func (c Cluster) ownerLabels() map[string]string {
	if c.OwnerName == "" {
		return nil
	}
	return c.RM.GetOwnerLabels(c.OwnerName, c.OwnerNamespace)
}

// diffCreating diffs the manifests whose namespace exists by dry run and
// makes every manifest in a namespace of missing a create; cmp is
// compareLive's result for manifests.
func diffCreating(ctx context.Context, c Cluster, manifests []configs.Manifest, cmp liveComparison, missing []string) ([]ObjectChange, error) {
	var existing []configs.Manifest
	var kept []int
	var out []ObjectChange
	for i, m := range manifests {
		if !slices.Contains(missing, m.GetNamespace()) {
			existing = append(existing, m)
			kept = append(kept, i)
			continue
		}
		m = m.WithLabels(c.ownerLabels())
		diff, err := unifiedDiff(m.ID(), nil, m.Unstructured())
		if err != nil {
			return nil, err
		}
		out = append(out, ObjectChange{Manifest: m, Action: ObjectCreate, Diff: diff})
	}
	changes, err := diffCompared(ctx, c.RM, existing, cmp.only(kept), c.ownerLabels())
	return append(changes, out...), err
}
