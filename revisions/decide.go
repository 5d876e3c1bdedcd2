package revisions

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/meshops/meshops/mesh"
)

// maxRevisions is how many revisions AKS keeps installed at once: the
// current one and a canary.
const maxRevisions = 2

// Decide returns what to do with the revisions of the cluster in s so that
// it converges on d. It never returns an error: what meshops must not do is
// a KindBlocked decision whose Reason says what a person must decide.
//
// The rules, in the order they apply (each is a case of decide_test.go):
//  1. an operation meshops can poll is running → resume it;
//  2. the provisioning state is not Succeeded (or Canceled) → wait, or
//     block when it is Failed, unless a failed rollout is to be rolled back;
//  3. more than two revisions installed, or a list of more than two →
//     block;
//  4. a failed rollout → roll the canary back to the previous revision;
//  5. nothing installed → install the target (the oldest listed revision
//     in the list shape, so the others follow as canaries);
//  6. one installed → canary start towards the target or a listed
//     revision still missing, or the downgrade policy;
//  7. two installed → complete (after verify, the orphan guard and the
//     soak), keep both (list shape), the downgrade policy, or consolidate.
//
// Removing a revision (complete, rollback, consolidate) always passes the
// orphan guard: no workload runs it and the tag does not point at it.
func Decide(s State, d Desired) Decision {
	if d.Target.IsZero() {
		return blocked("no desired revision: set svc.istio.versions (and targetVersion when it lists several)")
	}
	installed := s.Installed
	if !s.MeshEnabled {
		installed = nil
	}
	if s.Operation != nil {
		what := "an operation on the revisions"
		if s.Operation.Kind != "" && s.Operation.Kind != KindNone {
			what = "the " + string(s.Operation.Kind) + " operation"
		}
		if len(s.Operation.Revisions) > 0 {
			what += " to [" + strings.Join(s.Operation.Revisions, ", ") + "]"
		}
		return Decision{Kind: KindResume, Operation: s.Operation,
			Reason: what + " is still running: follow it to the end instead of sending another request"}
	}
	switch s.ProvisioningState {
	case ProvisioningSucceeded, ProvisioningCanceled:
	case ProvisioningFailed:
		if !d.RolloutFailed {
			code := ""
			if s.LastError != "" {
				code = " (" + s.LastError + ")"
			}
			return blocked("the cluster's last operation failed%s and its provisioning state is Failed: "+
				"find out why (az aks show), reconcile the cluster (az aks update), then run meshops again", code)
		}
	case "":
		return Decision{Kind: KindWait, Reason: "the cluster reports no provisioning state yet: observe again"}
	default:
		return Decision{Kind: KindWait, Reason: fmt.Sprintf(
			"the cluster is %s (another operation runs): change revisions once it is Succeeded", s.ProvisioningState)}
	}
	if len(installed) > maxRevisions {
		return blocked("%d revisions are installed (%s) but AKS keeps at most %d: remove the extra ones by hand (az aks mesh upgrade complete or rollback)",
			len(installed), strings.Join(names(installed), ", "), maxRevisions)
	}
	if d.Shape == ShapeList && len(d.Versions) > maxRevisions {
		return blocked("versions lists %d revisions (%s) but AKS installs at most %d: list at most two",
			len(d.Versions), strings.Join(names(d.Versions), ", "), maxRevisions)
	}
	if d.RolloutFailed {
		return rollbackFailed(installed, d)
	}
	switch len(installed) {
	case 0:
		return install(s, d)
	case 1:
		return one(s, installed[0], d)
	}
	return two(installed[0], installed[1], d)
}

// rollbackFailed rolls the canary back once the rollout onto it failed and
// the tag and workloads are back on the previous revision.
func rollbackFailed(installed []mesh.Revision, d Desired) Decision {
	t := d.Target.Name
	if len(installed) != maxRevisions || !slices.Contains(names(installed), t) {
		if !slices.Contains(names(installed), t) {
			return none("the rollout onto %s failed and %s is not installed: nothing to roll back through the provider", t, t)
		}
		return blocked("the rollout onto %s failed and no previous revision is installed to roll back to: fix or replace %s in versions", t, t)
	}
	prev := other(installed, t)
	if installed[1].Name != t {
		// Rolling back onto the newer revision would remove the older one:
		// a complete, not the rollback of a canary.
		return blocked("the rollout onto %s failed and everything is back on the newer %s: a person must decide whether to keep %s (set versions to %s) or fix %s",
			t, prev.Name, prev.Name, prev.Name, t)
	}
	if d.Shape == ShapeList && d.listed(prev.Name) {
		return none("the rollout onto %s failed; %s and %s stay installed because versions lists both (remove %s from versions to remove it)",
			t, prev.Name, t, t)
	}
	if why := guard(d, t); why != "" {
		return blocked("the rollout onto %s failed, but the canary cannot be rolled back while %s", t, why)
	}
	return Decision{Kind: KindRollback, Revisions: []string{prev.Name}, Removes: []string{t},
		Reason: fmt.Sprintf("the rollout onto %s failed and everything is back on %s: roll the canary back", t, prev.Name)}
}

// install enables the mesh when no revision is installed.
func install(s State, d Desired) Decision {
	pick := d.Target
	if d.Shape == ShapeList && len(d.Versions) > 0 {
		// AKS adds only newer revisions as canaries: start from the oldest.
		pick = d.Versions[0]
	}
	if !slices.Contains(s.Available, pick.Name) {
		return unavailable(s, pick.Name, "no revision is installed")
	}
	reason := fmt.Sprintf("no revision is installed: enable the mesh with %s", pick.Name)
	if pick.Name != d.Target.Name || len(d.Versions) > 1 {
		reason += "; the other listed revisions follow as canaries"
	}
	return Decision{Kind: KindInstall, Revisions: []string{pick.Name}, Reason: reason}
}

// one decides with a single revision installed.
func one(s State, cur mesh.Revision, d Desired) Decision {
	t := d.Target
	switch c := mesh.Compare(t, cur); {
	case c > 0:
		return canary(s, cur, t, fmt.Sprintf("upgrade %s → %s: start %s as a canary next to %s", cur.Name, t.Name, t.Name, cur.Name))
	case c < 0:
		if d.OnDowngrade == DowngradeRollback {
			return blocked("desired %s is older than installed %s, and AKS rolls back only a canary: %s was completed, so %s cannot come back; "+
				"set versions to %s or a newer revision", t.Name, cur.Name, cur.Name, t.Name, cur.Name)
		}
		return refuseDowngrade(t, cur)
	}
	// The target is installed; the list shape may name another revision.
	for _, v := range d.Versions {
		if v.Name == cur.Name {
			continue
		}
		if v.Less(cur) {
			return blocked("versions lists %s, older than installed %s, and AKS adds only newer revisions: remove %s from versions", v.Name, cur.Name, v.Name)
		}
		return canary(s, cur, v, fmt.Sprintf("versions lists %s too: start it as a canary next to %s (workloads stay on %s)", v.Name, cur.Name, cur.Name))
	}
	return none("%s is installed, as versions asks", cur.Name)
}

// canary starts rev next to cur when the cluster may move to it.
func canary(s State, cur, rev mesh.Revision, reason string) Decision {
	if !slices.Contains(s.Available, rev.Name) {
		return unavailable(s, rev.Name, cur.Name+" is installed")
	}
	return Decision{Kind: KindCanaryStart, Revisions: []string{cur.Name, rev.Name}, Reason: reason}
}

// two decides with a canary [older, newer] installed.
func two(older, newer mesh.Revision, d Desired) Decision {
	t := d.Target.Name
	switch t {
	case newer.Name:
		if d.Shape == ShapeList && d.listed(older.Name) {
			return none("%s and %s stay installed because versions lists both; workloads run on %s", older.Name, newer.Name, t)
		}
		return complete(older, newer, d)
	case older.Name:
		if d.Shape == ShapeList && d.listed(newer.Name) {
			return none("%s and %s stay installed because versions lists both; workloads run on %s", older.Name, newer.Name, t)
		}
		if d.OnDowngrade != DowngradeRollback {
			return refuseDowngrade(d.Target, newer)
		}
		return remove(KindRollback, older, newer, d,
			fmt.Sprintf("desired %s is older than the canary %s and meshops.revisions.onDowngrade is rollback: roll the canary back", t, newer.Name))
	}
	return consolidate(older, newer, d)
}

// complete removes the older revision of a canary once the target verified,
// nothing runs on the older one and the soak is over.
func complete(older, newer mesh.Revision, d Desired) Decision {
	if !d.VerifyPassed || guard(d, older.Name) != "" {
		if d.VerifyPassed {
			return blocked("verify passed on %s but %s is not removed while %s: move them, then run meshops again",
				newer.Name, older.Name, guard(d, older.Name))
		}
		return Decision{Kind: KindNone, Next: KindComplete, Revisions: []string{newer.Name}, Removes: []string{older.Name},
			Reason: fmt.Sprintf("canary %s is running: complete it (remove %s) once verify passes and nothing runs on %s", newer.Name, older.Name, older.Name)}
	}
	if d.CompleteAfter > 0 {
		if d.CanaryStarted.IsZero() {
			return Decision{Kind: KindCompleteLater, Next: KindComplete, After: d.CompleteAfter,
				Revisions: []string{newer.Name}, Removes: []string{older.Name},
				Reason: fmt.Sprintf("the canary's start time is not recorded: the soak of %s counts from now", d.CompleteAfter)}
		}
		if left := d.CanaryStarted.Add(d.CompleteAfter).Sub(d.Now); left > 0 {
			return Decision{Kind: KindCompleteLater, Next: KindComplete, After: left,
				Revisions: []string{newer.Name}, Removes: []string{older.Name},
				Reason: fmt.Sprintf("verified on %s; the soak (meshops.revisions.completeAfter %s) ends in %s: a later run completes the canary",
					newer.Name, d.CompleteAfter, left.Round(time.Second))}
		}
	}
	return Decision{Kind: KindComplete, Revisions: []string{newer.Name}, Removes: []string{older.Name},
		Reason: fmt.Sprintf("verified on %s and nothing runs on %s: complete the canary", newer.Name, older.Name)}
}

// remove requests [keep] and drops gone, behind the orphan guard. Before
// verify passed, the in-cluster steps that move workloads off gone are
// still to come, so the removal is shown as Next rather than blocked.
func remove(kind Kind, keep, gone mesh.Revision, d Desired, reason string) Decision {
	if why := guard(d, gone.Name); why != "" {
		if d.VerifyPassed {
			return blocked("verify passed on %s but %s is not removed while %s: move them, then run meshops again", keep.Name, gone.Name, why)
		}
		return Decision{Kind: KindNone, Next: kind, Revisions: []string{keep.Name}, Removes: []string{gone.Name},
			Reason: reason + fmt.Sprintf(", once the tag and the workloads are back on %s", keep.Name)}
	}
	return Decision{Kind: kind, Revisions: []string{keep.Name}, Removes: []string{gone.Name}, Reason: reason}
}

// consolidate handles two installed revisions neither of which is the
// target: AKS cannot add a third, so one must go first.
func consolidate(older, newer mesh.Revision, d Desired) Decision {
	t := d.Target
	keep, gone := mesh.Revision{}, mesh.Revision{}
	switch {
	case d.Shape == ShapeList && d.listed(older.Name) && !d.listed(newer.Name):
		keep, gone = older, newer
	case d.Shape == ShapeList && d.listed(newer.Name) && !d.listed(older.Name):
		keep, gone = newer, older
	case newer.Less(t):
		keep, gone = newer, older
	default:
		return blocked("desired %s is not installed and %s and %s are, but %s cannot be reached from either "+
			"(AKS upgrades only to newer revisions and keeps at most two): a person must choose — set versions to %s or %s, "+
			"or remove one by hand (az aks mesh upgrade rollback or complete)", t.Name, older.Name, newer.Name, t.Name, older.Name, newer.Name)
	}
	if why := guard(d, gone.Name); why != "" {
		return blocked("desired %s is not installed and %s and %s are; AKS keeps at most two, so %s must go first, but %s: "+
			"a person must decide — move them to %s (set targetVersion %s and sync), or set versions back to %s",
			t.Name, older.Name, newer.Name, gone.Name, why, keep.Name, keep.Name, gone.Name)
	}
	return Decision{Kind: KindConsolidate, Revisions: []string{keep.Name}, Removes: []string{gone.Name},
		Reason: fmt.Sprintf("desired %s is not installed and %s and %s are: keep %s and remove %s (nothing runs on it), then start %s as a canary",
			t.Name, older.Name, newer.Name, keep.Name, gone.Name, t.Name)}
}

// guard is the orphan guard: it says why rev may not be removed, or "".
func guard(d Desired, rev string) string {
	var why []string
	if d.TagRevision == rev {
		why = append(why, "the tag still points at "+rev)
	}
	if ws := d.Workloads[rev]; len(ws) > 0 {
		why = append(why, fmt.Sprintf("%d workload(s) still run %s: %s", len(ws), rev, listSome(ws, 5)))
	}
	return strings.Join(why, " and ")
}

func refuseDowngrade(t, installed mesh.Revision) Decision {
	return blocked("desired %s is older than installed %s and meshops.revisions.onDowngrade is refuse: "+
		"set versions back to %s, or set onDowngrade: rollback to roll the mesh back (possible only while %s is a canary)",
		t.Name, installed.Name, installed.Name, installed.Name)
}

// unavailable blocks on a revision the cluster cannot move to, naming what
// it can move to and why the rest is out of reach.
func unavailable(s State, rev, where string) Decision {
	why := "AKS does not offer it for this cluster"
	var others []string
	for _, u := range s.Unavailable {
		if u.Revision == rev {
			why = u.Reason
			continue
		}
		others = append(others, u.Revision+": "+u.Reason)
	}
	avail := "none"
	if len(s.Available) > 0 {
		avail = strings.Join(s.Available, ", ")
	}
	msg := fmt.Sprintf("%s is not available (%s): %s; available: %s", rev, where, why, avail)
	if len(others) > 0 {
		msg += "; not available: " + strings.Join(others, "; ")
	}
	if s.KubernetesVersion != "" {
		msg += "; the cluster runs Kubernetes " + s.KubernetesVersion
	}
	return blocked("%s: set versions to an available revision", msg)
}

func other(revs []mesh.Revision, name string) mesh.Revision {
	for _, r := range revs {
		if r.Name != name {
			return r
		}
	}
	return mesh.Revision{}
}

func listSome(s []string, n int) string {
	if len(s) <= n {
		return strings.Join(s, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(s[:n], ", "), len(s)-n)
}

func blocked(format string, args ...any) Decision {
	return Decision{Kind: KindBlocked, Reason: fmt.Sprintf(format, args...)}
}

func none(format string, args ...any) Decision {
	return Decision{Kind: KindNone, Reason: fmt.Sprintf(format, args...)}
}
