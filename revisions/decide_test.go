package revisions

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/meshops/meshops/mesh"
)

func rev(t *testing.T, name string) mesh.Revision {
	t.Helper()
	r, err := mesh.DefaultPattern().Parse(name)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func revs(t *testing.T, names ...string) []mesh.Revision {
	t.Helper()
	out := make([]mesh.Revision, 0, len(names))
	for _, n := range names {
		out = append(out, rev(t, n))
	}
	mesh.SortRevisions(out)
	return out
}

// The clock of every case: the soak is measured against it.
var now = time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC)

func TestDecide(t *testing.T) {
	// state is a settled cluster with the mesh enabled on installed.
	state := func(installed ...string) State {
		return State{
			Cluster: "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/c", MeshEnabled: len(installed) > 0,
			Installed: revs(t, installed...), ProvisioningState: ProvisioningSucceeded, KubernetesVersion: "1.35.2",
		}
	}
	with := func(s State, available ...string) State { s.Available = available; return s }
	single := func(target string) Desired {
		return Desired{Shape: ShapeSingle, Target: rev(t, target), Versions: revs(t, target), OnDowngrade: DowngradeRefuse, Now: now}
	}
	list := func(target string, versions ...string) Desired {
		return Desired{Shape: ShapeList, Target: rev(t, target), Versions: revs(t, versions...), OnDowngrade: DowngradeRefuse, Now: now}
	}
	verified := func(d Desired) Desired { d.VerifyPassed = true; d.TagRevision = d.Target.Name; return d }

	tests := []struct {
		name   string
		state  State
		want   Desired
		kind   Kind
		revs   []string
		remove []string
		next   Kind
		after  time.Duration
		reason []string // substrings of the reason
	}{
		{
			name: "blocks without a desired revision", state: state("asm-1-28"), want: Desired{Now: now},
			kind: KindBlocked, reason: []string{"set svc.istio.versions"},
		},
		{
			name: "installs the target when no revision is installed", state: with(state(), "asm-1-28", "asm-1-29"), want: single("asm-1-29"),
			kind: KindInstall, revs: []string{"asm-1-29"}, reason: []string{"enable the mesh with asm-1-29"},
		},
		{
			name: "installs when the mesh is disabled whatever revisions are reported",
			state: func() State {
				s := with(state("asm-1-27"), "asm-1-29")
				s.MeshEnabled = false
				return s
			}(),
			want: single("asm-1-29"), kind: KindInstall, revs: []string{"asm-1-29"},
		},
		{
			name: "installs the oldest listed revision first in the list shape", state: with(state(), "asm-1-28", "asm-1-29"),
			want: list("asm-1-29", "asm-1-28", "asm-1-29"), kind: KindInstall, revs: []string{"asm-1-28"}, reason: []string{"follow as canaries"},
		},
		{
			name: "blocks an install the location does not offer for this Kubernetes version and says what is available",
			state: func() State {
				s := with(state(), "asm-1-27", "asm-1-28")
				s.Unavailable = []Unavailable{{Revision: "asm-1-29", Reason: "needs Kubernetes 1.36 or 1.37"}, {Revision: "asm-1-26", Reason: "needs Kubernetes 1.31 or 1.32"}}
				return s
			}(),
			want: single("asm-1-29"), kind: KindBlocked,
			reason: []string{"asm-1-29 is not available", "needs Kubernetes 1.36 or 1.37", "available: asm-1-27, asm-1-28", "asm-1-26: needs Kubernetes 1.31", "runs Kubernetes 1.35.2"},
		},
		{
			name: "waits while the cluster is updating and says so",
			state: func() State {
				s := with(state("asm-1-28"), "asm-1-29")
				s.ProvisioningState = "Updating"
				return s
			}(),
			want: single("asm-1-29"), kind: KindWait, reason: []string{"the cluster is Updating"},
		},
		{
			name: "waits while the cluster reports no provisioning state",
			state: func() State {
				s := state("asm-1-28")
				s.ProvisioningState = ""
				return s
			}(),
			want: single("asm-1-28"), kind: KindWait, reason: []string{"no provisioning state"},
		},
		{
			name: "resumes an operation in progress instead of sending another request",
			state: func() State {
				s := state("asm-1-28")
				s.ProvisioningState = "Updating"
				s.Operation = &Operation{}
				return s
			}(),
			want: single("asm-1-29"), kind: KindResume, reason: []string{"still running", "instead of sending another request"},
		},
		{
			name: "resumes its own canary start with the resume token after a restart",
			state: func() State {
				s := state("asm-1-28", "asm-1-29")
				s.ProvisioningState = "Updating"
				s.Operation = &Operation{Kind: KindCanaryStart, Revisions: []string{"asm-1-28", "asm-1-29"}, ResumeToken: "token"}
				return s
			}(),
			want: single("asm-1-29"), kind: KindResume, reason: []string{"the canary-start operation to [asm-1-28, asm-1-29]"},
		},
		{
			name: "blocks on a failed cluster naming the ARM error code",
			state: func() State {
				s := state("asm-1-28")
				s.ProvisioningState = ProvisioningFailed
				s.LastError = "ServiceMeshUpgradeFailed"
				return s
			}(),
			want: single("asm-1-29"), kind: KindBlocked, reason: []string{"(ServiceMeshUpgradeFailed)", "az aks update"},
		},
		{
			name: "rolls back a failed rollout even when the cluster is failed",
			state: func() State {
				s := state("asm-1-28", "asm-1-29")
				s.ProvisioningState = ProvisioningFailed
				return s
			}(),
			want: func() Desired { d := single("asm-1-29"); d.RolloutFailed = true; d.TagRevision = "asm-1-28"; return d }(),
			kind: KindRollback, revs: []string{"asm-1-28"}, remove: []string{"asm-1-29"},
		},
		{
			name: "goes on after a canceled operation",
			state: func() State {
				s := with(state("asm-1-28"), "asm-1-29")
				s.ProvisioningState = ProvisioningCanceled
				return s
			}(),
			want: single("asm-1-29"), kind: KindCanaryStart, revs: []string{"asm-1-28", "asm-1-29"},
		},
		{
			name: "blocks when more than two revisions are installed", state: state("asm-1-27", "asm-1-28", "asm-1-29"), want: single("asm-1-29"),
			kind: KindBlocked, reason: []string{"3 revisions are installed (asm-1-27, asm-1-28, asm-1-29)", "at most 2"},
		},
		{
			name: "blocks a list of more than two revisions", state: state("asm-1-28"), want: list("asm-1-29", "asm-1-28", "asm-1-29", "asm-1-30"),
			kind: KindBlocked, reason: []string{"versions lists 3 revisions"},
		},
		{
			name: "does nothing when the single desired revision is installed", state: state("asm-1-29"), want: single("asm-1-29"),
			kind: KindNone, reason: []string{"asm-1-29 is installed"},
		},
		{
			name: "starts a canary next to the installed revision for a single desired new one", state: with(state("asm-1-28"), "asm-1-29", "asm-1-30"),
			want: single("asm-1-29"), kind: KindCanaryStart, revs: []string{"asm-1-28", "asm-1-29"}, reason: []string{"upgrade asm-1-28 → asm-1-29"},
		},
		{
			name: "starts a canary two minors ahead when AKS lists it", state: with(state("asm-1-27"), "asm-1-28", "asm-1-29"),
			want: single("asm-1-29"), kind: KindCanaryStart, revs: []string{"asm-1-27", "asm-1-29"},
		},
		{
			name: "orders revisions by number so asm-1-9 to asm-1-10 is an upgrade", state: with(state("asm-1-9"), "asm-1-10"),
			want: single("asm-1-10"), kind: KindCanaryStart, revs: []string{"asm-1-9", "asm-1-10"},
		},
		{
			name: "blocks a canary to a revision that is not among the upgrades and says why",
			state: func() State {
				s := with(state("asm-1-27"), "asm-1-28", "asm-1-29")
				s.Unavailable = []Unavailable{{Revision: "asm-1-30", Reason: "not an upgrade of asm-1-27 (AKS upgrades to n+1 or n+2)"}}
				return s
			}(),
			want: single("asm-1-30"), kind: KindBlocked,
			reason: []string{"asm-1-30 is not available (asm-1-27 is installed)", "n+1 or n+2", "available: asm-1-28, asm-1-29"},
		},
		{
			name: "refuses a downgrade by default", state: state("asm-1-29"), want: single("asm-1-28"),
			kind: KindBlocked, reason: []string{"older than installed asm-1-29", "onDowngrade is refuse"},
		},
		{
			name: "cannot roll back a completed upgrade even with onDowngrade rollback", state: state("asm-1-29"),
			want: func() Desired { d := single("asm-1-28"); d.OnDowngrade = DowngradeRollback; return d }(),
			kind: KindBlocked, reason: []string{"rolls back only a canary", "asm-1-29 was completed"},
		},
		{
			name: "refuses a downgrade during a canary by default", state: state("asm-1-28", "asm-1-29"), want: verified(single("asm-1-28")),
			kind: KindBlocked, reason: []string{"older than installed asm-1-29", "onDowngrade is refuse"},
		},
		{
			name: "rolls the canary back on a downgrade with onDowngrade rollback", state: state("asm-1-28", "asm-1-29"),
			want: func() Desired { d := verified(single("asm-1-28")); d.OnDowngrade = DowngradeRollback; return d }(),
			kind: KindRollback, revs: []string{"asm-1-28"}, remove: []string{"asm-1-29"}, reason: []string{"onDowngrade is rollback"},
		},
		{
			name: "rolls the canary back only after the tag and workloads are back", state: state("asm-1-28", "asm-1-29"),
			want: func() Desired {
				d := single("asm-1-28")
				d.OnDowngrade = DowngradeRollback
				d.TagRevision = "asm-1-29"
				d.Workloads = map[string][]string{"asm-1-29": {"maestro/maestro-api"}}
				return d
			}(),
			kind: KindNone, next: KindRollback, revs: []string{"asm-1-28"}, remove: []string{"asm-1-29"}, reason: []string{"once the tag and the workloads are back on asm-1-28"},
		},
		{
			name: "waits for verify before completing the canary", state: state("asm-1-28", "asm-1-29"),
			want: func() Desired {
				d := single("asm-1-29")
				d.Workloads = map[string][]string{"asm-1-28": {"maestro/maestro-api"}}
				return d
			}(),
			kind: KindNone, next: KindComplete, revs: []string{"asm-1-29"}, remove: []string{"asm-1-28"}, reason: []string{"once verify passes"},
		},
		{
			name: "completes the canary once verified with nothing on the old revision", state: state("asm-1-28", "asm-1-29"), want: verified(single("asm-1-29")),
			kind: KindComplete, revs: []string{"asm-1-29"}, remove: []string{"asm-1-28"},
		},
		{
			name: "blocks the complete while workloads still run the old revision", state: state("asm-1-28", "asm-1-29"),
			want: func() Desired {
				d := verified(single("asm-1-29"))
				d.Workloads = map[string][]string{"asm-1-28": {"a/1", "b/2", "c/3", "d/4", "e/5", "f/6", "g/7"}, "asm-1-29": {"maestro/maestro-api"}}
				return d
			}(),
			kind: KindBlocked, reason: []string{"7 workload(s) still run asm-1-28: a/1, b/2, c/3, d/4, e/5 and 2 more"},
		},
		{
			name: "blocks the complete while the tag points at the old revision", state: state("asm-1-28", "asm-1-29"),
			want: func() Desired { d := verified(single("asm-1-29")); d.TagRevision = "asm-1-28"; return d }(),
			kind: KindBlocked, reason: []string{"the tag still points at asm-1-28"},
		},
		{
			name: "completes later while the soak is not over and says how long is left", state: state("asm-1-28", "asm-1-29"),
			want: func() Desired {
				d := verified(single("asm-1-29"))
				d.CompleteAfter = time.Hour
				d.CanaryStarted = now.Add(-20 * time.Minute)
				return d
			}(),
			kind: KindCompleteLater, next: KindComplete, after: 40 * time.Minute, revs: []string{"asm-1-29"}, remove: []string{"asm-1-28"}, reason: []string{"ends in 40m0s"},
		},
		{
			name: "completes once the soak is over", state: state("asm-1-28", "asm-1-29"),
			want: func() Desired {
				d := verified(single("asm-1-29"))
				d.CompleteAfter = time.Hour
				d.CanaryStarted = now.Add(-61 * time.Minute)
				return d
			}(),
			kind: KindComplete, revs: []string{"asm-1-29"}, remove: []string{"asm-1-28"},
		},
		{
			name: "starts the soak when the canary start time is unknown", state: state("asm-1-28", "asm-1-29"),
			want: func() Desired { d := verified(single("asm-1-29")); d.CompleteAfter = time.Hour; return d }(),
			kind: KindCompleteLater, next: KindComplete, after: time.Hour, revs: []string{"asm-1-29"}, remove: []string{"asm-1-28"}, reason: []string{"counts from now"},
		},
		{
			name: "keeps both listed revisions installed", state: state("asm-1-28", "asm-1-29"), want: verified(list("asm-1-29", "asm-1-28", "asm-1-29")),
			kind: KindNone, reason: []string{"versions lists both"},
		},
		{
			name: "keeps a listed newer revision installed ahead of the target", state: state("asm-1-28", "asm-1-29"), want: verified(list("asm-1-28", "asm-1-28", "asm-1-29")),
			kind: KindNone, reason: []string{"versions lists both"},
		},
		{
			name: "starts the target as a canary in the list shape", state: with(state("asm-1-28"), "asm-1-29"), want: list("asm-1-29", "asm-1-28", "asm-1-29"),
			kind: KindCanaryStart, revs: []string{"asm-1-28", "asm-1-29"},
		},
		{
			name: "starts a listed revision that is not the target as a canary", state: with(state("asm-1-28"), "asm-1-29"), want: list("asm-1-28", "asm-1-28", "asm-1-29"),
			kind: KindCanaryStart, revs: []string{"asm-1-28", "asm-1-29"}, reason: []string{"workloads stay on asm-1-28"},
		},
		{
			name: "completes away a revision that left the list", state: state("asm-1-28", "asm-1-29"), want: verified(list("asm-1-29", "asm-1-29", "asm-1-30")),
			kind: KindComplete, revs: []string{"asm-1-29"}, remove: []string{"asm-1-28"},
		},
		{
			name: "blocks a listed revision older than the installed one", state: state("asm-1-29"), want: list("asm-1-29", "asm-1-28", "asm-1-29"),
			kind: KindBlocked, reason: []string{"remove asm-1-28 from versions"},
		},
		{
			name: "rolls the canary back after a failed rollout", state: state("asm-1-28", "asm-1-29"),
			want: func() Desired { d := single("asm-1-29"); d.RolloutFailed = true; d.TagRevision = "asm-1-28"; return d }(),
			kind: KindRollback, revs: []string{"asm-1-28"}, remove: []string{"asm-1-29"}, reason: []string{"the rollout onto asm-1-29 failed"},
		},
		{
			name: "blocks the rollback of a failed rollout while workloads still run the canary", state: state("asm-1-28", "asm-1-29"),
			want: func() Desired {
				d := single("asm-1-29")
				d.RolloutFailed = true
				d.TagRevision = "asm-1-28"
				d.Workloads = map[string][]string{"asm-1-29": {"maestro/maestro-api"}}
				return d
			}(),
			kind: KindBlocked, reason: []string{"1 workload(s) still run asm-1-29: maestro/maestro-api"},
		},
		{
			name: "keeps both listed revisions after a failed rollout", state: state("asm-1-28", "asm-1-29"),
			want: func() Desired { d := list("asm-1-29", "asm-1-28", "asm-1-29"); d.RolloutFailed = true; return d }(),
			kind: KindNone, reason: []string{"stay installed because versions lists both"},
		},
		{
			name: "has nothing to roll back when the canary never got installed", state: state("asm-1-28"),
			want: func() Desired { d := single("asm-1-29"); d.RolloutFailed = true; return d }(),
			kind: KindNone, reason: []string{"asm-1-29 is not installed"},
		},
		{
			name: "blocks after a failed rollout onto the older of two revisions", state: state("asm-1-28", "asm-1-29"),
			want: func() Desired {
				d := single("asm-1-28")
				d.OnDowngrade = DowngradeRollback
				d.RolloutFailed = true
				d.TagRevision = "asm-1-29"
				return d
			}(),
			kind: KindBlocked, reason: []string{"back on the newer asm-1-29", "a person must decide"},
		},
		{
			name: "blocks the rollback of a failed install with nothing to go back to", state: state("asm-1-29"),
			want: func() Desired { d := single("asm-1-29"); d.RolloutFailed = true; return d }(),
			kind: KindBlocked, reason: []string{"no previous revision"},
		},
		{
			name: "consolidates onto the newer of two when the target is newer than both", state: state("asm-1-27", "asm-1-28"),
			want: func() Desired { d := single("asm-1-29"); d.TagRevision = "asm-1-28"; return d }(),
			kind: KindConsolidate, revs: []string{"asm-1-28"}, remove: []string{"asm-1-27"}, reason: []string{"then start asm-1-29 as a canary"},
		},
		{
			name: "blocks consolidation while workloads run the revision that must go and says what to decide", state: state("asm-1-27", "asm-1-28"),
			want: func() Desired {
				d := single("asm-1-29")
				d.TagRevision = "asm-1-27"
				d.Workloads = map[string][]string{"asm-1-27": {"maestro/maestro-api"}}
				return d
			}(),
			kind: KindBlocked, reason: []string{"asm-1-27 must go first", "a person must decide", "targetVersion asm-1-28"},
		},
		{
			name: "blocks when the target is older than both installed revisions", state: state("asm-1-28", "asm-1-29"), want: single("asm-1-27"),
			kind: KindBlocked, reason: []string{"a person must choose"},
		},
		{
			name: "consolidates onto the listed revision of two", state: state("asm-1-28", "asm-1-29"),
			want: func() Desired { d := list("asm-1-30", "asm-1-28", "asm-1-30"); d.TagRevision = "asm-1-28"; return d }(),
			kind: KindConsolidate, revs: []string{"asm-1-28"}, remove: []string{"asm-1-29"},
		},
	}
	for _, tt := range tests {
		t.Run(strings.ReplaceAll(tt.name, " ", "_"), func(t *testing.T) {
			got := Decide(tt.state, tt.want)
			if got.Kind != tt.kind || !slices.Equal(got.Revisions, tt.revs) || !slices.Equal(got.Removes, tt.remove) ||
				got.Next != tt.next || got.After != tt.after {
				t.Errorf("Decide = %+v\nwant kind %s, revisions %v, removes %v, next %q, after %s", got, tt.kind, tt.revs, tt.remove, tt.next, tt.after)
			}
			for _, s := range tt.reason {
				if !strings.Contains(got.Reason, s) {
					t.Errorf("reason %q\ndoes not say %q", got.Reason, s)
				}
			}
			if got.Reason == "" {
				t.Error("the decision gives no reason")
			}
			if got.Kind.Changes() != (len(got.Revisions) > 0 && got.Next == "") {
				t.Errorf("kind %s with revisions %v and next %q: a change always names its revisions", got.Kind, got.Revisions, got.Next)
			}
		})
	}
}

// A decision to remove a revision never removes one that workloads still
// run or that the tag points at, whatever else holds.
func TestDecideNeverRemovesARevisionInUse(t *testing.T) {
	kinds := []Kind{KindComplete, KindRollback, KindConsolidate}
	for _, installed := range [][]string{{"asm-1-27", "asm-1-28"}, {"asm-1-28", "asm-1-29"}} {
		for _, target := range []string{"asm-1-27", "asm-1-28", "asm-1-29", "asm-1-30"} {
			for _, policy := range DowngradePolicies {
				for _, failed := range []bool{false, true} {
					for _, inUse := range installed {
						for _, byTag := range []bool{false, true} {
							s := State{MeshEnabled: true, Installed: revs(t, installed...), ProvisioningState: ProvisioningSucceeded}
							d := Desired{Shape: ShapeSingle, Target: rev(t, target), Versions: revs(t, target), OnDowngrade: policy,
								Now: now, VerifyPassed: !failed, RolloutFailed: failed}
							if byTag {
								d.TagRevision = inUse
							} else {
								d.Workloads = map[string][]string{inUse: {"ns/w"}}
							}
							got := Decide(s, d)
							if slices.Contains(kinds, got.Kind) && slices.Contains(got.Removes, inUse) {
								t.Errorf("installed %v, target %s, policy %s, failed %v: %s removes %s, which is in use", installed, target, policy, failed, got, inUse)
							}
						}
					}
				}
			}
		}
	}
}
