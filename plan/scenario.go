package plan

import (
	"fmt"
	"slices"
	"strings"

	"github.com/meshops/meshops/mesh"
	"github.com/meshops/meshops/observe"
	"github.com/meshops/meshops/ref"
)

// Scenario is the one-line kind of change a plan makes, said at its top.
type Scenario string

const (
	ScenarioInSync             Scenario = "in sync"
	ScenarioFreshInstall       Scenario = "fresh install"
	ScenarioUpgrade            Scenario = "upgrade"
	ScenarioRollback           Scenario = "rollback"
	ScenarioResume             Scenario = "resume"
	ScenarioProxyPatch         Scenario = "proxy patch"
	ScenarioPolicyOnly         Scenario = "policy-only"
	ScenarioDrift              Scenario = "drift"
	ScenarioTargetNotInstalled Scenario = "target not installed"
	ScenarioTargetUnhealthy    Scenario = "target unhealthy"
	ScenarioRevisionInUse      Scenario = "revision in use"
	ScenarioWebhookOverlap     Scenario = "webhook overlap"
	// ScenarioBadRevision: the target failed a rollout at this commit and
	// was rolled back; it waits for a new commit or an explicit retry.
	ScenarioBadRevision Scenario = "bad revision"
	// ScenarioRevisionsBlocked: the revision provider will not change the
	// revisions as the config asks; a person must decide.
	ScenarioRevisionsBlocked Scenario = "revisions blocked"
	// ScenarioRevisionsBusy: another operation runs on the cluster.
	ScenarioRevisionsBusy Scenario = "revisions busy"
	// ScenarioNamespacesMissing: namespaces the config needs do not exist.
	ScenarioNamespacesMissing Scenario = "namespaces missing"
	// ScenarioCompleteCanary: the rollout is done; what is left is
	// removing the previous revision.
	ScenarioCompleteCanary Scenario = "complete canary"
)

// Desired is what the config repo asks of the mesh's control planes.
type Desired struct {
	// Versions are the revisions that should exist.
	Versions []string
	// Target is the revision the tag should point at.
	Target string
	// Tag is the revision tag mesh namespaces are labelled with.
	Tag string
	// MinReadyIstiod is the target's ready-replica floor. Default 1.
	MinReadyIstiod int32
	// Pattern orders revision names. Default mesh.DefaultPattern().
	Pattern mesh.RevisionPattern
	// Installing: the plan itself installs the target (the aks provider),
	// so its absence or a control plane not ready yet is expected.
	Installing bool
	// DeleteBarePods: bare pods on the tag are deleted, not stranded
	// (meshops.restart.deleteBarePods).
	DeleteBarePods bool
}

// Changes are what the manifest diff found, for the scenarios that are not
// about revisions.
type Changes struct {
	// Policies: the repo changes managed objects (a new commit).
	Policies bool
	// Drift: managed objects differ from the repo with no change in it
	// (someone edited them by hand).
	Drift bool
	// ProxyPatch: workloads on the target revision run an older proxy
	// image than the target injects today.
	ProxyPatch bool
}

// Classification is the scenario and what it rests on.
type Classification struct {
	Scenario Scenario
	// From is the revision the tag points at now ("" without a tag); To is
	// the target.
	From, To string
	// Blocked plans stop after the gate; Reason says why in words.
	Blocked bool
	Reason  string
	// Restart are the workloads on the tag whose pods run another revision
	// than the target: a restart moves them.
	Restart []ref.Workload
	// Stranded are workloads on a revision leaving Versions that no restart
	// of this plan will move (labelled with the revision itself, or bare
	// pods and Jobs): removing the revision would break them.
	Stranded []Stranded
}

// Stranded is a workload on a revision that leaves versions, which no
// restart will move.
type Stranded struct {
	Workload ref.Workload
	// Revision is the revision its pods run ("" when the proxy does not say).
	Revision string
}

func (s Stranded) String() string {
	return fmt.Sprintf("%s (on %s)", s.Workload, revisionOrUnknown(s.Revision))
}

// Classify decides the scenario from the snapshot and the repo. It is pure:
// the same inputs always give the same answer.
func Classify(s *observe.Snapshot, d Desired, ch Changes) Classification {
	c := Classification{To: d.Target}
	if t, ok := s.Tags[d.Tag]; ok {
		c.From = t.Revision
	}
	c.Restart, c.Stranded = SplitWorkloads(s, d.Tag, d.Target, d.Versions, d.DeleteBarePods)

	// Two injectors for one pod (IST0139) make every restart a gamble on
	// which one wins: nothing moves until a person removes one.
	if overlaps := Overlaps(s); len(overlaps) > 0 {
		msgs := make([]string, len(overlaps))
		for i, o := range overlaps {
			msgs[i] = o.String()
		}
		return c.block(ScenarioWebhookOverlap, strings.Join(msgs, "; ")+": delete the webhook that should not inject")
	}
	cp, ok := s.ControlPlanes[d.Target]
	switch {
	case d.Installing:
	case !ok || !cp.Found:
		return c.block(ScenarioTargetNotInstalled, fmt.Sprintf("target revision %s is not installed yet: waiting for istiod-%s to appear", d.Target, d.Target))
	default:
		if healthy, why := cp.Healthy(d.MinReadyIstiod); !healthy {
			return c.block(ScenarioTargetUnhealthy, "target revision is unhealthy: "+why)
		}
	}
	if len(c.Stranded) > 0 {
		names := make([]string, len(c.Stranded))
		for i, st := range c.Stranded {
			names[i] = st.String()
		}
		return c.block(ScenarioRevisionInUse, fmt.Sprintf("workloads still run on revisions leaving versions and no restart will move them: %s", strings.Join(names, ", ")))
	}
	switch {
	case c.From == "":
		c.Scenario, c.Reason = ScenarioFreshInstall, fmt.Sprintf("tag %s does not exist yet: create it on %s", d.Tag, d.Target)
	case c.From != d.Target && compareRevisions(d.Pattern, d.Target, c.From) > 0:
		c.Scenario, c.Reason = ScenarioUpgrade, fmt.Sprintf("upgrade %s → %s", c.From, d.Target)
	case c.From != d.Target:
		c.Scenario, c.Reason = ScenarioRollback, fmt.Sprintf("rollback %s → %s", c.From, d.Target)
	case len(c.Restart) > 0:
		c.Scenario, c.Reason = ScenarioResume, fmt.Sprintf("tag already on %s; %d workloads still on another revision", d.Target, len(c.Restart))
	case ch.ProxyPatch:
		c.Scenario, c.Reason = ScenarioProxyPatch, fmt.Sprintf("%s injects a newer proxy than some workloads run", d.Target)
	case ch.Policies:
		c.Scenario, c.Reason = ScenarioPolicyOnly, "policies change; the mesh revisions stay"
	case ch.Drift:
		c.Scenario, c.Reason = ScenarioDrift, "managed objects were changed by hand; restore them from git"
	default:
		c.Scenario, c.Reason = ScenarioInSync, fmt.Sprintf("tag %s on %s, every workload on it", d.Tag, d.Target)
	}
	return c
}

func (c Classification) block(s Scenario, reason string) Classification {
	c.Scenario, c.Blocked, c.Reason = s, true, reason
	return c
}

// SplitWorkloads is the one rule for which workloads a rollout to target
// moves and which it cannot: restart are the restartable workloads on tag
// with pods on another revision; stranded are the others with pods on a
// revision outside versions. The planner blocks on stranded workloads and
// verify fails on any workload left in either list.
//
// With deleteBarePods a bare pod on tag is neither: the plan deletes it.
func SplitWorkloads(s *observe.Snapshot, tag, target string, versions []string, deleteBarePods bool) (restart []ref.Workload, stranded []Stranded) {
	for _, w := range s.Workloads {
		onTag := s.OnTag(w, tag)
		for rev := range w.Revisions() {
			// A proxy that names no revision (a gateway deployed with its own
			// istio-proxy container, a very old injector) says nothing to
			// move or strand: only revisions we can name count.
			if rev == target || rev == "" {
				continue
			}
			switch {
			case onTag && w.Kind.Restartable():
				restart = append(restart, w.Ref())
			case onTag && w.Kind == ref.Pod && deleteBarePods:
			case !slices.Contains(versions, rev):
				stranded = append(stranded, Stranded{Workload: w.Ref(), Revision: rev})
			}
		}
	}
	// A workload with pods on two other revisions is listed once (and,
	// stranded, once per revision).
	slices.SortFunc(restart, ref.Workload.Compare)
	slices.SortFunc(stranded, func(a, b Stranded) int {
		if c := strings.Compare(a.String(), b.String()); c != 0 {
			return c
		}
		return 0
	})
	return slices.Compact(restart), slices.Compact(stranded)
}

func revisionOrUnknown(rev string) string {
	if rev == "" {
		return "an unknown revision"
	}
	return rev
}

// compareRevisions orders by the pattern's numbers, falling back to the
// names when one does not follow it (validation reports that separately).
func compareRevisions(p mesh.RevisionPattern, a, b string) int {
	if p.String() == "" {
		p = mesh.DefaultPattern()
	}
	ra, errA := p.Parse(a)
	rb, errB := p.Parse(b)
	if errA != nil || errB != nil {
		return strings.Compare(a, b)
	}
	return mesh.Compare(ra, rb)
}
