package revisions

import (
	"fmt"
	"strings"
	"time"

	"github.com/meshops/meshops/mesh"
)

// Provider names who installs and removes revisions
// (meshops.revisions.provider in meshops.yaml).
type Provider string

const (
	// ProviderExternal: someone else installs and removes revisions;
	// meshops waits for the target and reports what still runs on a
	// revision that leaves versions. The default.
	ProviderExternal Provider = "external"
	// ProviderAKS: meshops drives the AKS Istio add-on through ARM.
	ProviderAKS Provider = "aks"
)

// Providers lists the valid providers, for messages.
var Providers = []Provider{ProviderExternal, ProviderAKS}

// Shape is how svc.istio.versions was written; the two shapes mean different
// things for revisions that are installed but not wanted.
type Shape string

const (
	// ShapeSingle: versions names one revision (ARO HCP today:
	// versions: "asm-1-29", targetVersion absent or equal). Install it and,
	// once verified, remove the previous one (complete the canary).
	ShapeSingle Shape = "single"
	// ShapeList: versions names several revisions and targetVersion picks
	// the one workloads run on. Keep every listed revision installed; only
	// a revision that leaves the list is removed.
	ShapeList Shape = "list"
)

// Meaning says in one sentence what a shape asks of meshops, for
// meshops validate.
func (s Shape) Meaning() string {
	switch s {
	case ShapeSingle:
		return "install this revision and remove the previous one once verified (canary complete)"
	case ShapeList:
		return "keep every listed revision installed; workloads run on targetVersion"
	}
	return "unknown shape"
}

// DowngradePolicy is what to do when the desired revision is older than an
// installed one (meshops.revisions.onDowngrade).
type DowngradePolicy string

const (
	// DowngradeRefuse blocks and says so: the default, since a downgrade is
	// usually a mistake in the config.
	DowngradeRefuse DowngradePolicy = "refuse"
	// DowngradeRollback rolls the mesh back to the desired revision, which
	// AKS allows only while the newer one is a canary.
	DowngradeRollback DowngradePolicy = "rollback"
)

// DowngradePolicies lists the valid policies, for messages.
var DowngradePolicies = []DowngradePolicy{DowngradeRefuse, DowngradeRollback}

// ProvisioningState values of an ARM resource that Decide tells apart. Any
// other value (Updating, Creating, Upgrading, …) means an operation runs.
const (
	ProvisioningSucceeded = "Succeeded"
	ProvisioningFailed    = "Failed"
	ProvisioningCanceled  = "Canceled"
)

// State is what a provider observed of the cluster's revisions.
type State struct {
	// Cluster identifies the cluster in messages (the ARM resource id).
	Cluster string `json:"cluster"`
	// MeshEnabled is false when the mesh mode is Disabled (or absent):
	// nothing is installed whatever Installed says.
	MeshEnabled bool `json:"meshEnabled"`
	// Installed are the installed revisions, oldest first.
	Installed []mesh.Revision `json:"installed,omitempty"`
	// ProvisioningState is the cluster's ARM provisioning state.
	ProvisioningState string `json:"provisioningState"`
	// LastError is the ARM error code of the last failed operation, if
	// known (shown when ProvisioningState is Failed).
	LastError string `json:"lastError,omitempty"`
	// Operation is an ARM operation on the revisions that is still running
	// and that meshops can poll: one it started (a resume token was kept)
	// or one a PUT ran into (409). Nil when none.
	Operation *Operation `json:"operation,omitempty"`
	// KubernetesVersion is the cluster's Kubernetes version; revisions are
	// compatible with a range of them.
	KubernetesVersion string `json:"kubernetesVersion,omitempty"`
	// Available are the revisions the cluster may move to from where it is:
	// the upgrades of the installed revision, or the revisions the location
	// offers for this Kubernetes version when none is installed.
	Available []string `json:"available,omitempty"`
	// Unavailable are revisions the provider knows of that are not
	// available, each with why (Kubernetes version, not an n+1 or n+2
	// upgrade, not offered in the location).
	Unavailable []Unavailable `json:"unavailable,omitempty"`
}

// Unavailable is a revision the cluster cannot move to, and why.
type Unavailable struct {
	Revision string `json:"revision"`
	Reason   string `json:"reason"`
}

// Operation is a running ARM operation on the cluster.
type Operation struct {
	// Kind is what the operation does, when meshops started it; KindNone
	// when it is someone else's (seen as a 409 or an Updating state).
	Kind Kind `json:"kind,omitempty"`
	// Revisions are the revisions it requested, when known.
	Revisions []string `json:"revisions,omitempty"`
	// ResumeToken lets a poller pick the operation up again after a
	// restart (revisions/aks.Operation.ResumeToken). Empty when unknown:
	// then the provider polls the resource until it settles.
	ResumeToken string `json:"resumeToken,omitempty"`
}

// Desired is what the config asks for plus the in-cluster facts the
// complete and rollback steps need.
type Desired struct {
	// Shape is how versions was written.
	Shape Shape `json:"shape"`
	// Target is the revision workloads should run on.
	Target mesh.Revision `json:"target"`
	// Versions are the listed revisions, oldest first (just Target in the
	// single shape).
	Versions []mesh.Revision `json:"versions"`
	// OnDowngrade is the choice when Target is older than an installed
	// revision.
	OnDowngrade DowngradePolicy `json:"onDowngrade"`
	// CompleteAfter is the soak time between the canary start and the
	// complete; 0 completes as soon as verify passes.
	CompleteAfter time.Duration `json:"completeAfter"`
	// CanaryStarted is when the current canary started (kept in meshops'
	// state record); zero when unknown.
	CanaryStarted time.Time `json:"canaryStarted,omitzero"`
	// Now is the time of the decision (Decide reads no clock).
	Now time.Time `json:"now"`
	// VerifyPassed is true once the in-cluster verify passed on Target in
	// this rollout (every workload on Target, gateways healthy).
	VerifyPassed bool `json:"verifyPassed"`
	// Workloads lists, per revision name, the workloads (namespace/name)
	// whose pods run that revision: the orphan guard removes no revision
	// anything still runs on.
	Workloads map[string][]string `json:"workloads,omitempty"`
	// TagRevision is the revision the tag points at now; a revision the
	// tag points at is never removed.
	TagRevision string `json:"tagRevision,omitempty"`
	// RolloutFailed is true when the rollout onto Target failed and the
	// tag and the moved workloads are back on the previous revision
	// (auto-rollback): the canary is rolled back too.
	RolloutFailed bool `json:"rolloutFailed"`
}

// listed reports whether name is one of Versions.
func (d Desired) listed(name string) bool {
	for _, v := range d.Versions {
		if v.Name == name {
			return true
		}
	}
	return false
}

// Kind is what a Decision does.
type Kind string

const (
	// KindNone: nothing to do at the provider; Reason says why.
	KindNone Kind = "none"
	// KindWait: another operation runs on the cluster (provisioning state
	// not Succeeded); try again later.
	KindWait Kind = "wait"
	// KindResume: an operation on the revisions is running; poll it to the
	// end (State.Operation), never send a second PUT.
	KindResume Kind = "resume"
	// KindInstall: enable the mesh with Revisions (one revision).
	KindInstall Kind = "install"
	// KindCanaryStart: add a revision next to the installed one.
	KindCanaryStart Kind = "canary-start"
	// KindComplete: remove the older revision of a canary.
	KindComplete Kind = "complete"
	// KindCompleteLater: the canary is ready to complete but the soak time
	// is not over; After says how long is left.
	KindCompleteLater Kind = "complete-later"
	// KindRollback: remove the newer revision of a canary.
	KindRollback Kind = "rollback"
	// KindConsolidate: two revisions are installed and neither is the
	// target; keep the one the target can be reached from.
	KindConsolidate Kind = "consolidate"
	// KindBlocked: meshops will not change the revisions; Reason says what
	// a person must decide.
	KindBlocked Kind = "blocked"
)

// Changes reports whether the decision asks the provider to set revisions.
func (k Kind) Changes() bool {
	switch k {
	case KindInstall, KindCanaryStart, KindComplete, KindRollback, KindConsolidate:
		return true
	}
	return false
}

// Decision is what to do with the revisions, and why.
type Decision struct {
	Kind Kind `json:"kind"`
	// Next is, when Kind is KindNone or KindCompleteLater, the change that
	// follows once the in-cluster steps are done (verify passed, the tag
	// and workloads moved) or the soak is over: KindComplete or
	// KindRollback. The plan shows it as a step still to come.
	Next Kind `json:"next,omitempty"`
	// Revisions is the full list to request (serviceMeshProfile.istio.revisions)
	// when Kind.Changes(), or later for Next; nil otherwise.
	Revisions []string `json:"revisions,omitempty"`
	// Removes are the installed revisions that request removes.
	Removes []string `json:"removes,omitempty"`
	// After is the soak time left (KindCompleteLater).
	After time.Duration `json:"after,omitempty"`
	// Operation is the operation to resume (KindResume).
	Operation *Operation `json:"operation,omitempty"`
	// Reason says why, in words a reviewer of the plan understands.
	Reason string `json:"reason"`
}

// String renders the decision on one line.
func (d Decision) String() string {
	if len(d.Revisions) > 0 {
		return fmt.Sprintf("%s [%s]: %s", d.Kind, strings.Join(d.Revisions, ", "), d.Reason)
	}
	return fmt.Sprintf("%s: %s", d.Kind, d.Reason)
}

func names(revs []mesh.Revision) []string {
	out := make([]string, len(revs))
	for i, r := range revs {
		out[i] = r.Name
	}
	return out
}
