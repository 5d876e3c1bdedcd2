package armemu

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
)

// Operation is the kind of mesh change a PUT asks for. Latency is set per
// kind, and the request log and the operation status name it.
type Operation string

const (
	// OpInstall enables the mesh with one revision.
	OpInstall Operation = "install"
	// OpCanary starts a canary upgrade: [current] → [current, new].
	OpCanary Operation = "canary"
	// OpComplete completes a canary: [old, new] → [new].
	OpComplete Operation = "complete"
	// OpRollback rolls a canary back: [old, new] → [old].
	OpRollback Operation = "rollback"
	// OpDisable disables the mesh and removes every revision.
	OpDisable Operation = "disable"
	// OpUpdate is a PUT that changes no revision.
	OpUpdate Operation = "update"
)

// operations are every Operation, for checking names from outside Go.
var operations = []Operation{OpInstall, OpCanary, OpComplete, OpRollback, OpDisable, OpUpdate}

// Operations returns every kind of operation, e.g. to set one latency for
// all.
func Operations() []Operation { return slices.Clone(operations) }

// Service mesh modes as ARM spells them (armcontainerservice.ServiceMeshMode).
const (
	ModeIstio    = "Istio"
	ModeDisabled = "Disabled"
)

// meshSpec is serviceMeshProfile's part the emulator acts on.
type meshSpec struct {
	Mode      string
	Revisions []string
}

// change is what an accepted PUT does to the mesh.
type change struct {
	Op   Operation
	Want meshSpec
}

// armError is an ARM error response: the status code and the body
// {"error":{"code":..,"message":..}}.
type armError struct {
	Status  int
	Code    string
	Message string
}

func (e *armError) Error() string { return fmt.Sprintf("%d %s: %s", e.Status, e.Code, e.Message) }

// revisionsNotAllowed is how AKS refuses a change of revisions: 400,
// code BadRequest, "Requested change in revisions is not allowed. Reason:
// ...", as users report it (MicrosoftDocs/azure-docs#120606,
// Azure/ARO-HCP#750). The reasons after it are the emulator's words.
func revisionsNotAllowed(format string, args ...any) *armError {
	return &armError{
		Status:  http.StatusBadRequest,
		Code:    "BadRequest",
		Message: "Requested change in revisions is not allowed. Reason: " + fmt.Sprintf(format, args...),
	}
}

// planChange checks a requested serviceMeshProfile against the current one
// by the rules of the AKS Istio add-on (https://learn.microsoft.com/azure/aks/istio-upgrade):
// at most two revisions; enabling the mesh installs one revision the region
// offers for the cluster's Kubernetes version; a second revision starts a
// canary and must be one of the current revision's available upgrades; with
// two installed, only [new] (complete) or [old] (rollback) are accepted.
func planChange(cat catalog, cur, req meshSpec) (change, *armError) {
	mode, ok := canonicalMode(req.Mode)
	if !ok {
		return change{}, &armError{Status: http.StatusBadRequest, Code: "InvalidParameter",
			Message: fmt.Sprintf("The value of parameter serviceMeshProfile.mode is invalid: %q (want %s or %s).", req.Mode, ModeIstio, ModeDisabled)}
	}
	enabled := cur.Mode == ModeIstio && len(cur.Revisions) > 0
	if mode == ModeDisabled {
		if !enabled {
			return change{Op: OpUpdate, Want: meshSpec{Mode: ModeDisabled}}, nil
		}
		return change{Op: OpDisable, Want: meshSpec{Mode: ModeDisabled}}, nil
	}

	revs := req.Revisions
	if len(revs) == 0 {
		if enabled {
			return change{Op: OpUpdate, Want: cur}, nil
		}
		def, ok := cat.defaultRevision()
		if !ok {
			return change{}, revisionsNotAllowed("no revision of the service mesh add-on supports Kubernetes version %s.", cat.kubeFullV)
		}
		revs = []string{def}
	}
	if len(revs) > 2 {
		return change{}, revisionsNotAllowed("at most two revisions can be installed at a time (one canary upgrade); requested %d: %s.", len(revs), strings.Join(revs, ", "))
	}
	var want []string
	for _, r := range revs {
		rev, ok := cat.lookup(r)
		if !ok {
			return change{}, revisionsNotAllowed("Revision %s is not supported by the service mesh add-on.", r)
		}
		if !cat.compatible(rev) {
			return change{}, revisionsNotAllowed("Revision %s is not compatible with Kubernetes version %s (it supports %s).", rev.Name, cat.kubeFullV, strings.Join(rev.KubernetesVersions, ", "))
		}
		if slices.Contains(want, rev.Name) {
			return change{}, revisionsNotAllowed("revision %s is listed twice.", rev.Name)
		}
		want = append(want, rev.Name)
	}
	want = cat.sorted(want)
	next := meshSpec{Mode: ModeIstio, Revisions: want}

	switch {
	case !enabled:
		if len(want) != 1 {
			return change{}, revisionsNotAllowed("the service mesh is not enabled: enable it with one revision, then start a canary upgrade.")
		}
		return change{Op: OpInstall, Want: next}, nil
	case slices.Equal(want, cur.Revisions):
		return change{Op: OpUpdate, Want: next}, nil
	case len(cur.Revisions) == 1:
		from := cur.Revisions[0]
		if !slices.Contains(want, from) {
			return change{}, revisionsNotAllowed("revision %s is installed; change revisions through a canary upgrade: start it with revisions [%s, <new>].", from, from)
		}
		to := want[0]
		if to == from {
			to = want[1]
		}
		avail := cat.upgrades(from)
		if !slices.Contains(avail, to) {
			return change{}, revisionsNotAllowed("revision %s is not an available upgrade from %s on Kubernetes %s (available: %s).", to, from, cat.kubeFullV, orNone(avail))
		}
		return change{Op: OpCanary, Want: next}, nil
	default: // a canary is in progress: [old, new]
		old, neu := cur.Revisions[0], cur.Revisions[1]
		if slices.Equal(want, []string{neu}) {
			return change{Op: OpComplete, Want: next}, nil
		}
		if slices.Equal(want, []string{old}) {
			return change{Op: OpRollback, Want: next}, nil
		}
		return change{}, revisionsNotAllowed("a canary upgrade from %s to %s is in progress: complete it (revisions [%s]) or roll it back (revisions [%s]) first.", old, neu, neu, old)
	}
}

func canonicalMode(m string) (string, bool) {
	switch {
	case strings.EqualFold(m, ModeIstio):
		return ModeIstio, true
	case strings.EqualFold(m, ModeDisabled):
		return ModeDisabled, true
	}
	return "", false
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}
