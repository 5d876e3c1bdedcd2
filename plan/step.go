package plan

import (
	"encoding/json"
	"strings"

	"github.com/meshops/meshops/ref"
	"github.com/meshops/meshops/revisions"
)

// Action is what a step does, in words a reviewer reads.
type Action string

const (
	ActionCheck   Action = "check"
	ActionCreate  Action = "create"
	ActionUpdate  Action = "update"
	ActionDelete  Action = "delete"
	ActionLabel   Action = "label"
	ActionFlip    Action = "flip"
	ActionRestart Action = "restart"
)

// Op is what the executor does for a step; it dispatches on it alone.
type Op string

const (
	OpValidate Op = "validate"
	// OpGate checks the target revision (Target.Name) is healthy and injects.
	OpGate Op = "gate"
	// OpApply server-side applies the manifest from git named by Target.Object.
	OpApply Op = "apply"
	// OpAnnotate sets the public-IP annotations on the ingress Service.
	OpAnnotate Op = "annotate"
	// OpLabel labels the namespace Target.Name istio.io/rev=<tag>.
	OpLabel Op = "label"
	// OpCreateNamespace creates the namespace Target.Name, on the tag when
	// it is one of the mesh's (meshops.createNamespaces).
	OpCreateNamespace Op = "create-namespace"
	// OpSetTag points the tag (Target.Name, its webhook Target.Object) at
	// the plan's target revision.
	OpSetTag Op = "set-tag"
	// OpRestart restarts Target.Workload onto Step.Revision.
	OpRestart Op = "restart"
	// OpDeletePod deletes the bare pod Target.Workload.
	OpDeletePod Op = "delete-pod"
	OpVerify    Op = "verify"
	// OpPrune deletes Target.Object, which left git.
	OpPrune Op = "prune"
	// OpSetRevisions asks the revision provider for Step.Revisions
	// (Step.RevisionKind: install, canary start, consolidate) and waits for
	// the operation, or follows one already running (resume).
	OpSetRevisions Op = "set-revisions"
	// OpCompleteRevisions removes the revision a verified rollout left
	// behind (complete), or the target of a reverted one (rollback), after
	// deciding again with what the cluster shows then.
	OpCompleteRevisions Op = "complete-revisions"
)

// TargetKind says which of Target's fields name what a step touches.
type TargetKind string

const (
	TargetConfig    TargetKind = "config"
	TargetRevision  TargetKind = "revision"
	TargetObject    TargetKind = "object"
	TargetNamespace TargetKind = "namespace"
	TargetTag       TargetKind = "tag"
	TargetWorkload  TargetKind = "workload"
	TargetMesh      TargetKind = "mesh"
	// TargetRevisions is a cluster's set of control-plane revisions, named
	// by the provider (the AKS cluster's ARM id).
	TargetRevisions TargetKind = "revisions"
)

// Target is what one step touches, typed: nothing formats it into a string
// to parse back.
type Target struct {
	Kind TargetKind
	// Object: the object of TargetObject; the tag's webhook for TargetTag.
	Object *ref.Object
	// Workload of TargetWorkload.
	Workload *ref.Workload
	// Name: the revision of TargetRevision, the namespace of
	// TargetNamespace, the tag of TargetTag.
	Name string
}

// ConfigTarget is the config repo as a whole.
func ConfigTarget() Target { return Target{Kind: TargetConfig} }

// MeshTarget is the mesh as a whole, for verification.
func MeshTarget() Target { return Target{Kind: TargetMesh} }

// RevisionTarget is one control-plane revision.
func RevisionTarget(rev string) Target { return Target{Kind: TargetRevision, Name: rev} }

// ObjectTarget is one object.
func ObjectTarget(o ref.Object) Target { return Target{Kind: TargetObject, Object: &o} }

// NamespaceTarget is a namespace's mesh label.
func NamespaceTarget(name string) Target { return Target{Kind: TargetNamespace, Name: name} }

// TagTarget is a revision tag and its webhook.
func TagTarget(tag string, webhook ref.Object) Target {
	return Target{Kind: TargetTag, Name: tag, Object: &webhook}
}

// WorkloadTarget is one workload.
func WorkloadTarget(w ref.Workload) Target { return Target{Kind: TargetWorkload, Workload: &w} }

// RevisionsTarget is the revisions of a cluster, named by the provider.
func RevisionsTarget(cluster string) Target { return Target{Kind: TargetRevisions, Name: cluster} }

// Namespace is the namespace the target lives in or is ("" for the
// config, the mesh, a revision and cluster-scoped objects).
func (t Target) Namespace() string {
	switch {
	case t.Kind == TargetNamespace:
		return t.Name
	case t.Workload != nil:
		return t.Workload.Namespace
	case t.Object != nil:
		return t.Object.Namespace
	}
	return ""
}

// String is how plans and logs show the target.
func (t Target) String() string {
	switch t.Kind {
	case TargetRevision:
		return "revision/" + t.Name
	case TargetObject, TargetTag:
		if t.Object != nil {
			return t.Object.String()
		}
		return "tag/" + t.Name
	case TargetNamespace:
		return "Namespace/" + t.Name
	case TargetRevisions:
		// An ARM id: .../managedClusters/<name>.
		return "ManagedCluster/" + t.Name[strings.LastIndex(t.Name, "/")+1:]
	case TargetWorkload:
		if t.Workload != nil {
			return t.Workload.String()
		}
	}
	return string(t.Kind)
}

// Step is one thing the executor does, in order.
type Step struct {
	Phase  Phase
	Action Action
	// Op is what the executor does; Target what it does it to.
	Op     Op
	Target Target
	// Reason says why, in words.
	Reason string
	// Diff is a unified diff, for object changes.
	Diff string
	// Source is the manifest's file:line, for object changes.
	Source string
	// Revision and Proxy are what a restart moves the workload to: the
	// revision, and the proxy image tag when the restart is for a proxy
	// patch. A workload already restarted for the same pair is waited for,
	// never restarted again.
	Revision string
	Proxy    string
	// Replace: the object's whole spec is replaced (fields added by hand
	// to a security policy are removed), not merged by server-side apply.
	Replace bool
	// UnhealthyBefore marks a restart of a workload that was not healthy
	// before the upgrade: it goes last, and its failure is reported, not
	// rolled back or held against the revision.
	UnhealthyBefore bool
	// Pods is how many pods a restart step's workload ran when the plan was
	// made: what its restart takes from the mesh's disruption budget
	// (restart.maxUnavailable) while it rolls. Pacing, not part of the
	// plan document.
	Pods int
	// RevisionKind and Revisions are a revision change: what the provider
	// is asked to do and the revisions it is asked for.
	RevisionKind revisions.Kind
	Revisions    []string
}

// Changes reports whether the step changes the cluster; checks do not.
func (s Step) Changes() bool { return s.Action != ActionCheck }

// stepJSON is a step in the plan document: the target as people read it,
// and the object it names, for tools.
type stepJSON struct {
	Phase    Phase       `json:"phase"`
	Action   Action      `json:"action"`
	Target   string      `json:"target"`
	Reason   string      `json:"reason"`
	Diff     string      `json:"diff,omitempty"`
	Source   string      `json:"source,omitempty"`
	Object   *ref.Object `json:"object,omitempty"`
	Revision string      `json:"revision,omitempty"`
	Proxy    string      `json:"proxy,omitempty"`
	Replace  bool        `json:"replace,omitempty"`
	// Revisions is the revision list a revision change requests.
	Revisions       []string `json:"revisions,omitempty"`
	UnhealthyBefore bool     `json:"unhealthyBefore,omitempty"`
}

// MarshalJSON writes the step as the plan document has it.
func (s Step) MarshalJSON() ([]byte, error) {
	doc := stepJSON{Phase: s.Phase, Action: s.Action, Target: s.Target.String(), Reason: s.Reason, Diff: s.Diff,
		Source: s.Source, Revision: s.Revision, Proxy: s.Proxy, Replace: s.Replace, Revisions: s.Revisions, UnhealthyBefore: s.UnhealthyBefore}
	if s.Target.Kind == TargetObject {
		doc.Object = s.Target.Object
	}
	return json.Marshal(doc)
}
