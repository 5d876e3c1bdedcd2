package ref

import (
	"fmt"
	"strings"

	"github.com/fluxcd/cli-utils/pkg/object"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Object identifies one Kubernetes object.
type Object struct {
	Group     string `json:"group,omitempty"`
	Kind      string `json:"kind"`
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name"`
}

// FromMetadata is the ref of an object in fluxcd/pkg/ssa's and the
// inventory's form.
func FromMetadata(id object.ObjMetadata) Object {
	return Object{Group: id.GroupKind.Group, Kind: id.GroupKind.Kind, Namespace: id.Namespace, Name: id.Name}
}

// Metadata is the ref in the form fluxcd/pkg/ssa and the inventory use.
func (o Object) Metadata() object.ObjMetadata {
	return object.ObjMetadata{Namespace: o.Namespace, Name: o.Name, GroupKind: schema.GroupKind{Group: o.Group, Kind: o.Kind}}
}

// GroupKind is the object's API group and kind.
func (o Object) GroupKind() schema.GroupKind { return schema.GroupKind{Group: o.Group, Kind: o.Kind} }

// String is Kind/namespace/name (Kind/name for cluster-scoped objects), as
// people read it in plans and logs. It is for display only: two objects of
// the same kind in different groups print alike.
func (o Object) String() string {
	if o.Namespace == "" {
		return o.Kind + "/" + o.Name
	}
	return o.Kind + "/" + o.Namespace + "/" + o.Name
}

// WorkloadKind is what controls a workload's pods.
type WorkloadKind string

const (
	Deployment  WorkloadKind = "Deployment"
	StatefulSet WorkloadKind = "StatefulSet"
	DaemonSet   WorkloadKind = "DaemonSet"
	Job         WorkloadKind = "Job"
	CronJob     WorkloadKind = "CronJob"
	// Pod is a bare pod: nothing recreates it.
	Pod WorkloadKind = "Pod"
)

// Group is the kind's API group.
func (k WorkloadKind) Group() string {
	switch k {
	case Deployment, StatefulSet, DaemonSet:
		return "apps"
	case Job, CronJob:
		return "batch"
	}
	return ""
}

// Restartable: a rollout restart replaces the pods of these kinds.
func (k WorkloadKind) Restartable() bool {
	return k == Deployment || k == StatefulSet || k == DaemonSet
}

// Workload identifies the controller (or bare pod) of a set of pods.
type Workload struct {
	Kind      WorkloadKind
	Namespace string
	Name      string
}

// Object is the workload as an object ref.
func (w Workload) Object() Object {
	return Object{Group: w.Kind.Group(), Kind: string(w.Kind), Namespace: w.Namespace, Name: w.Name}
}

// APIVersion is the workload kind's group and version, for object
// references in Events.
func (w Workload) APIVersion() string {
	if g := w.Kind.Group(); g != "" {
		return g + "/v1"
	}
	return "v1"
}

// String is Kind/namespace/name.
func (w Workload) String() string { return string(w.Kind) + "/" + w.Namespace + "/" + w.Name }

// Compare orders workloads by namespace, kind and name.
func (w Workload) Compare(o Workload) int {
	if c := strings.Compare(w.Namespace, o.Namespace); c != 0 {
		return c
	}
	if c := strings.Compare(string(w.Kind), string(o.Kind)); c != 0 {
		return c
	}
	return strings.Compare(w.Name, o.Name)
}

// MarshalText writes Kind/namespace/name: meshops' record has always kept
// moved workloads in that form, and a record written by an older meshops
// must still resume.
func (w Workload) MarshalText() ([]byte, error) { return []byte(w.String()), nil }

// UnmarshalText reads what MarshalText wrote; the one place that form is
// parsed.
func (w *Workload) UnmarshalText(b []byte) error {
	parts := strings.SplitN(string(b), "/", 3)
	if len(parts) != 3 || parts[0] == "" || parts[1] == "" || parts[2] == "" {
		return fmt.Errorf("workload %q is not Kind/namespace/name", b)
	}
	*w = Workload{Kind: WorkloadKind(parts[0]), Namespace: parts[1], Name: parts[2]}
	return nil
}

// ShortCommit is a commit hash as meshops shows and records it: the first
// twelve characters.
func ShortCommit(hash string) string { return hash[:min(12, len(hash))] }
