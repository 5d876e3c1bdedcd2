package status

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/meshops/meshops/mesh"
	"github.com/meshops/meshops/observe"
	"github.com/meshops/meshops/ref"
	"github.com/meshops/meshops/rollout"
	"github.com/meshops/meshops/state"
)

var now = time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)

func healthyCP(rev string) mesh.ControlPlane {
	return mesh.ControlPlane{Revision: rev, Found: true, InjectorPresent: true,
		DeploymentCounts: rollout.DeploymentCounts{Desired: 1, Replicas: 1, Updated: 1, Ready: 1, Available: 1}}
}

func unreadyCP(rev string) mesh.ControlPlane {
	cp := healthyCP(rev)
	cp.Ready, cp.Available = 0, 0
	return cp
}

// pod is an injected pod on rev ("" for a proxy that names none).
func pod(name, rev string) observe.Pod {
	return observe.Pod{Name: name, Ready: true, Sidecar: mesh.Sidecar{Injected: true, Revision: rev}}
}

func deployment(ns, name string, pods ...observe.Pod) observe.Workload {
	return observe.Workload{Kind: ref.Deployment, Namespace: ns, Name: name, Pods: pods}
}

// mesh2 is a cluster with asm-1-28 and asm-1-29 healthy, the tag
// prod-stable on tagRev, and namespaces app (on the tag) and legacy (on
// asm-1-28 by name).
func mesh2(tagRev string, workloads ...observe.Workload) *observe.Snapshot {
	return &observe.Snapshot{
		ControlPlanes: map[string]mesh.ControlPlane{"asm-1-28": healthyCP("asm-1-28"), "asm-1-29": healthyCP("asm-1-29")},
		Tags:          map[string]observe.Tag{"prod-stable": {Name: "prod-stable", Webhook: "istio-revision-tag-prod-stable-aks-istio-system", Revision: tagRev}},
		Namespaces: map[string]observe.Namespace{
			"app":    {Name: "app", Rev: "prod-stable"},
			"legacy": {Name: "legacy", Rev: "asm-1-28"},
		},
		Workloads: workloads,
	}
}

func yes() *bool { b := true; return &b }
func no() *bool  { b := false; return &b }

const (
	healthy28 = "istiod-asm-1-28: 1/1 ready, injector present"
	healthy29 = "istiod-asm-1-29: 1/1 ready, injector present"
)

func TestBuildReportsTheMeshAndTheRecord(t *testing.T) {
	finished := now.Add(-time.Hour)
	tests := []struct {
		name     string
		snap     *observe.Snapshot
		rec      *state.Record
		tag      string
		versions []string
		want     Report
	}{{
		name:     "tag on the target, every workload on it: no stragglers",
		snap:     mesh2("asm-1-29", deployment("app", "api", pod("api-1", "asm-1-29"), pod("api-2", "asm-1-29"))),
		tag:      "prod-stable",
		versions: []string{"asm-1-29"},
		want: Report{Time: now, Tag: Tag{Name: "prod-stable", Found: true, Revision: "asm-1-29"}, Workloads: 1,
			Revisions: []Revision{
				{Name: "asm-1-28", Installed: true, Healthy: true, Reason: healthy28, InVersions: no()},
				{Name: "asm-1-29", Tags: []string{"prod-stable"}, Installed: true, Healthy: true, Reason: healthy29, InVersions: yes(), Workloads: 1, Pods: 2},
			}},
	}, {
		name: "a workload on the tag with pods on another revision is a straggler; one pinned by name is not",
		snap: mesh2("asm-1-29",
			deployment("app", "api", pod("api-1", "asm-1-28"), pod("api-2", "asm-1-29")),
			deployment("app", "web", pod("web-1", "asm-1-29")),
			deployment("legacy", "old", pod("old-1", "asm-1-28"))),
		tag: "prod-stable",
		want: Report{Time: now, Tag: Tag{Name: "prod-stable", Found: true, Revision: "asm-1-29"}, Workloads: 3,
			Revisions: []Revision{
				{Name: "asm-1-28", Installed: true, Healthy: true, Reason: healthy28, Workloads: 2, Pods: 2},
				{Name: "asm-1-29", Tags: []string{"prod-stable"}, Installed: true, Healthy: true, Reason: healthy29, Workloads: 2, Pods: 2},
			},
			Stragglers: []Straggler{{Workload: ref.Workload{Kind: ref.Deployment, Namespace: "app", Name: "api"}, Reason: OffTag, Revisions: []string{"asm-1-28"}, Pods: 1}}},
	}, {
		name: "pods whose proxy names no revision are counted as unknown and named, on the tag or not",
		snap: mesh2("asm-1-29",
			deployment("app", "api", pod("api-1", ""), pod("api-2", "asm-1-28")),
			deployment("legacy", "gw", pod("gw-1", ""))),
		tag: "prod-stable",
		want: Report{Time: now, Tag: Tag{Name: "prod-stable", Found: true, Revision: "asm-1-29"}, Workloads: 2,
			Revisions: []Revision{
				{Name: "asm-1-28", Installed: true, Healthy: true, Reason: healthy28, Workloads: 1, Pods: 1},
				{Name: "asm-1-29", Tags: []string{"prod-stable"}, Installed: true, Healthy: true, Reason: healthy29},
				{Name: UnknownRevision, Unknown: true, Reason: UnknownExplained, Workloads: 2, Pods: 2},
			},
			Stragglers: []Straggler{
				{Workload: ref.Workload{Kind: ref.Deployment, Namespace: "app", Name: "api"}, Reason: Unknown, Revisions: []string{"asm-1-28", UnknownRevision}, Pods: 2},
				{Workload: ref.Workload{Kind: ref.Deployment, Namespace: "legacy", Name: "gw"}, Reason: Unknown, Revisions: []string{UnknownRevision}, Pods: 1},
			}},
	}, {
		name: "a revision outside versions, one listed but not installed, one only pods name, and an unready istiod",
		snap: func() *observe.Snapshot {
			s := mesh2("asm-1-28", deployment("legacy", "old", pod("old-1", "asm-1-27")))
			s.ControlPlanes["asm-1-29"] = unreadyCP("asm-1-29")
			return s
		}(),
		tag:      "prod-stable",
		versions: []string{"asm-1-29", "asm-1-30"},
		want: Report{Time: now, Tag: Tag{Name: "prod-stable", Found: true, Revision: "asm-1-28"}, Workloads: 1,
			Revisions: []Revision{
				{Name: "asm-1-27", Reason: "revision asm-1-27 is not installed (no Deployment istiod-asm-1-27)", InVersions: no(), Workloads: 1, Pods: 1},
				{Name: "asm-1-28", Tags: []string{"prod-stable"}, Installed: true, Healthy: true, Reason: healthy28, InVersions: no()},
				{Name: "asm-1-29", Installed: true, Reason: "istiod-asm-1-29: 0 ready and 0 available of 1 replicas (at least 1 needed)", InVersions: yes()},
				{Name: "asm-1-30", Reason: "revision asm-1-30 is not installed (no Deployment istiod-asm-1-30)", InVersions: yes()},
			}},
	}, {
		name: "no tag given: the cluster's only tag",
		snap: mesh2("asm-1-29"),
		want: Report{Time: now, Tag: Tag{Name: "prod-stable", Found: true, Revision: "asm-1-29"},
			Revisions: []Revision{
				{Name: "asm-1-28", Installed: true, Healthy: true, Reason: healthy28},
				{Name: "asm-1-29", Tags: []string{"prod-stable"}, Installed: true, Healthy: true, Reason: healthy29},
			}},
	}, {
		name: "a tag the cluster lacks",
		snap: &observe.Snapshot{},
		tag:  "prod-canary",
		want: Report{Time: now, Tag: Tag{Name: "prod-canary"}},
	}, {
		name: "suspended, with the last result and error",
		snap: &observe.Snapshot{},
		rec: &state.Record{Suspended: true, LastResult: state.ResultSuspended, LastError: "apply: forbidden",
			LastAppliedCommit: "c3f02f9ef9f1", LastRun: now.Add(-time.Minute), NextRun: now.Add(4 * time.Minute)},
		want: Report{Time: now, Record: &Record{Suspended: true, LastResult: state.ResultSuspended, LastError: "apply: forbidden",
			LastAppliedCommit: "c3f02f9ef9f1", LastRun: now.Add(-time.Minute), NextRun: now.Add(4 * time.Minute)}},
	}, {
		name: "bad revisions, sorted by name",
		snap: &observe.Snapshot{},
		rec: &state.Record{LastResult: state.ResultRolledBack, BadRevisions: map[string]state.BadRevision{
			"asm-1-30": {Commit: "b2", Error: "verify failed", Time: finished},
			"asm-1-29": {Commit: "a1", Error: "restart failed", Time: finished},
		}},
		want: Report{Time: now, Record: &Record{LastResult: state.ResultRolledBack, BadRevisions: []BadRevision{
			{Revision: "asm-1-29", Commit: "a1", Error: "restart failed", Time: finished},
			{Revision: "asm-1-30", Commit: "b2", Error: "verify failed", Time: finished},
		}}},
	}, {
		name: "a rollout in progress: from, target, step counted from 1, workloads moved",
		snap: &observe.Snapshot{},
		rec: &state.Record{Progress: &state.Progress{Commit: "a296660631f9", From: "asm-1-28", Target: "asm-1-29", Step: 6,
			StepTarget: "Deployment/maestro/maestro-api", Started: now.Add(-time.Minute),
			Restarted: []ref.Workload{{Kind: ref.Deployment, Namespace: "maestro", Name: "maestro-worker"}}}},
		want: Report{Time: now, Record: &Record{Rollout: &Rollout{InProgress: true, Commit: "a296660631f9", From: "asm-1-28", Target: "asm-1-29",
			Step: 7, StepTarget: "Deployment/maestro/maestro-api", Moved: 1, Started: now.Add(-time.Minute)}}},
	}, {
		name: "the last rollout, finished",
		snap: &observe.Snapshot{},
		rec:  &state.Record{Progress: &state.Progress{Target: "asm-1-29", Step: 13, Started: finished.Add(-time.Minute), Finished: finished}},
		want: Report{Time: now, Record: &Record{Rollout: &Rollout{Target: "asm-1-29", Step: 14, Started: finished.Add(-time.Minute), Finished: finished}}},
	}, {
		name: "the git source failing since a time",
		snap: nil,
		rec:  &state.Record{SourceError: "fetching https://git.example/repo: connection refused", SourceErrorSince: finished},
		want: Report{Time: now, Record: &Record{SourceError: "fetching https://git.example/repo: connection refused", SourceErrorSince: finished}},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Build(tt.snap, tt.rec, tt.tag, tt.versions, now)
			if !reflect.DeepEqual(got, tt.want) {
				g, _ := json.MarshalIndent(got, "", "  ")
				w, _ := json.MarshalIndent(tt.want, "", "  ")
				t.Errorf("got\n%s\nwant\n%s", g, w)
			}
		})
	}
}
