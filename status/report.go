package status

import (
	"cmp"
	"slices"
	"time"

	"github.com/meshops/meshops/mesh"
	"github.com/meshops/meshops/observe"
	"github.com/meshops/meshops/ref"
	"github.com/meshops/meshops/state"
)

// UnknownRevision is how a report, the page and /metrics
// (workloads{revision="unknown"}) name the revision of a pod whose
// istio-proxy does not say which revision injected it: no
// sidecar.istio.io/status revision and no istio.io/rev annotation. Such a
// proxy was put there by hand, by a gateway chart that ships its own
// istio-proxy container, or by a very old injector; no tag move or restart
// by meshops changes it.
const UnknownRevision = "unknown"

// UnknownExplained says what UnknownRevision means, in the report and on
// the page, where its row stands.
const UnknownExplained = "the pods' istio-proxy names no revision (no revision in sidecar.istio.io/status, no istio.io/rev annotation): " +
	"a proxy added by hand or by a gateway chart, or a very old injector; a tag move or restart does not change it"

// Report is the mesh and meshops at one moment.
type Report struct {
	// Time is when the report was built; relative times are taken from it.
	Time time.Time `json:"time"`
	Tag  Tag       `json:"tag"`
	// Revisions are every control-plane revision installed, listed in the
	// config's versions, or named by a pod, oldest first; the unknown
	// revision, when a pod has one, comes last.
	Revisions []Revision `json:"revisions,omitempty"`
	// Workloads counts every workload with an injected pod.
	Workloads int `json:"workloads"`
	// Stragglers are the workloads that do not run where they should.
	Stragglers []Straggler `json:"stragglers,omitempty"`
	// Record is meshops' record; nil when none was read.
	Record *Record `json:"record,omitempty"`
}

// Tag is the revision tag namespaces join the mesh through.
type Tag struct {
	Name string `json:"name,omitempty"`
	// Found is false when no webhook of that tag exists.
	Found bool `json:"found"`
	// Revision the tag's webhook points at.
	Revision string `json:"revision,omitempty"`
}

// Revision is one control-plane revision and what runs on it.
type Revision struct {
	// Name of the revision; UnknownRevision for pods whose proxy names none
	// (then Unknown is true and the istiod fields are empty).
	Name    string `json:"name"`
	Unknown bool   `json:"unknown,omitempty"`
	// Tags are every revision tag that points at it.
	Tags []string `json:"tags,omitempty"`
	// Installed is true when its istiod Deployment exists.
	Installed bool `json:"installed"`
	// Healthy and Reason are mesh.ControlPlane.Healthy's verdict: what a
	// tag move or restart onto this revision would require.
	Healthy bool   `json:"healthy"`
	Reason  string `json:"reason,omitempty"`
	// InVersions says whether the config's versions list it; nil when no
	// config was given.
	InVersions *bool `json:"inVersions,omitempty"`
	// Workloads with at least one pod on it, and those pods.
	Workloads int `json:"workloads"`
	Pods      int `json:"pods"`
}

// StragglerReason says why a workload is a straggler.
type StragglerReason string

const (
	// OffTag: the workload's namespace is on the tag, and some of its pods
	// run another revision than the tag's; a restart moves them.
	OffTag StragglerReason = "off-tag"
	// Unknown: some of its pods run a proxy that names no revision.
	Unknown StragglerReason = "unknown-revision"
)

// Straggler is a workload with pods where they should not be.
type Straggler struct {
	Workload ref.Workload    `json:"workload"`
	Reason   StragglerReason `json:"reason"`
	// Revisions its pods run that are not the tag's (UnknownRevision for
	// proxies that name none), and how many pods run them.
	Revisions []string `json:"revisions"`
	Pods      int      `json:"pods"`
}

// Record is what meshops remembers, as status shows it. Free text was
// masked by state when written and when read.
type Record struct {
	Suspended         bool         `json:"suspended"`
	LastResult        state.Result `json:"lastResult,omitempty"`
	LastError         string       `json:"lastError,omitempty"`
	LastAppliedCommit string       `json:"lastAppliedCommit,omitempty"`
	LastRun           time.Time    `json:"lastRun,omitzero"`
	NextRun           time.Time    `json:"nextRun,omitzero"`
	// SourceError is why the config repo could not be fetched, since
	// SourceErrorSince; meshops keeps enforcing the last commit it fetched.
	SourceError      string        `json:"sourceError,omitempty"`
	SourceErrorSince time.Time     `json:"sourceErrorSince,omitzero"`
	BadRevisions     []BadRevision `json:"badRevisions,omitempty"`
	Rollout          *Rollout      `json:"rollout,omitempty"`
}

// BadRevision failed a rollout and was rolled back; the loop does not try
// it again on its own.
type BadRevision struct {
	Revision string    `json:"revision"`
	Commit   string    `json:"commit"`
	Error    string    `json:"error"`
	Time     time.Time `json:"time"`
}

// Rollout is the rollout under way, or the last one when Finished is set.
type Rollout struct {
	InProgress bool   `json:"inProgress"`
	Commit     string `json:"commit,omitempty"`
	From       string `json:"from,omitempty"`
	Target     string `json:"target"`
	// Step is the plan step reached, counted from 1, and StepTarget what it
	// touches.
	Step       int       `json:"step"`
	StepTarget string    `json:"stepTarget,omitempty"`
	Moved      int       `json:"moved"`
	Started    time.Time `json:"started,omitzero"`
	Finished   time.Time `json:"finished,omitzero"`
}

// Build makes the report of snap and rec (either may be nil) for tag and
// the config's versions (nil when no config was given). With no tag, the
// cluster's only tag is used, so status works without a config. Health is
// judged with mesh.ControlPlane.Healthy at its floor of one ready replica.
func Build(snap *observe.Snapshot, rec *state.Record, tag string, versions []string, now time.Time) Report {
	r := Report{Time: now, Record: record(rec)}
	if snap == nil {
		snap = &observe.Snapshot{}
	}
	if tag == "" && len(snap.Tags) == 1 {
		for name := range snap.Tags {
			tag = name
		}
	}
	r.Tag = Tag{Name: tag}
	if t, ok := snap.Tags[tag]; ok && tag != "" {
		r.Tag.Found, r.Tag.Revision = true, t.Revision
	}

	revs := map[string]*Revision{}
	row := func(name string) *Revision {
		if rv := revs[name]; rv != nil {
			return rv
		}
		rv := &Revision{Name: name}
		if name == "" {
			rv.Name, rv.Unknown = UnknownRevision, true
			rv.Reason = UnknownExplained
		} else {
			cp, ok := snap.ControlPlanes[name]
			if !ok {
				cp = mesh.ControlPlane{Revision: name}
			}
			rv.Installed = cp.Found
			rv.Healthy, rv.Reason = cp.Healthy(1)
			if versions != nil {
				in := slices.Contains(versions, name)
				rv.InVersions = &in
			}
		}
		revs[name] = rv
		return rv
	}
	for name := range snap.ControlPlanes {
		row(name)
	}
	for _, v := range versions {
		row(v)
	}
	for name, t := range snap.Tags {
		if t.Revision != "" {
			rv := row(t.Revision)
			rv.Tags = append(rv.Tags, name)
		}
	}

	for _, w := range snap.Workloads {
		perRev := w.Revisions()
		if len(perRev) == 0 {
			continue
		}
		r.Workloads++
		for name, pods := range perRev {
			rv := row(name)
			rv.Workloads++
			rv.Pods += pods
		}
		if s, ok := straggler(snap, w, perRev, tag, r.Tag.Revision); ok {
			r.Stragglers = append(r.Stragglers, s)
		}
	}

	for _, rv := range revs {
		slices.Sort(rv.Tags)
		r.Revisions = append(r.Revisions, *rv)
	}
	pattern := mesh.DefaultPattern()
	slices.SortFunc(r.Revisions, func(a, b Revision) int {
		if a.Unknown != b.Unknown {
			if a.Unknown {
				return 1
			}
			return -1
		}
		ra, errA := pattern.Parse(a.Name)
		rb, errB := pattern.Parse(b.Name)
		if errA == nil && errB == nil {
			return mesh.Compare(ra, rb)
		}
		return cmp.Compare(a.Name, b.Name)
	})
	slices.SortFunc(r.Stragglers, func(a, b Straggler) int { return a.Workload.Compare(b.Workload) })
	return r
}

// straggler says whether w runs pods where it should not: on the tag but
// on another revision than the tag's (what a restart fixes, by the same
// reading of a pod's revision as the planner's), or behind a proxy that
// names no revision.
func straggler(snap *observe.Snapshot, w observe.Workload, perRev map[string]int, tag, tagRev string) (Straggler, bool) {
	s := Straggler{Workload: w.Ref()}
	offTag := tagRev != "" && snap.OnTag(w, tag)
	for name, pods := range perRev {
		switch {
		case name == "":
			s.Revisions = append(s.Revisions, UnknownRevision)
		case offTag && name != tagRev:
			s.Revisions = append(s.Revisions, name)
		default:
			continue
		}
		s.Pods += pods
	}
	slices.Sort(s.Revisions)
	// An unknown proxy says the most: nothing meshops does changes it.
	s.Reason = OffTag
	if slices.Contains(s.Revisions, UnknownRevision) {
		s.Reason = Unknown
	}
	return s, len(s.Revisions) > 0
}

func record(rec *state.Record) *Record {
	if rec == nil {
		return nil
	}
	out := &Record{
		Suspended:         rec.Suspended,
		LastResult:        rec.LastResult,
		LastError:         rec.LastError,
		LastAppliedCommit: rec.LastAppliedCommit,
		LastRun:           rec.LastRun,
		NextRun:           rec.NextRun,
		SourceError:       rec.SourceError,
		SourceErrorSince:  rec.SourceErrorSince,
	}
	for name, b := range rec.BadRevisions {
		out.BadRevisions = append(out.BadRevisions, BadRevision{Revision: name, Commit: b.Commit, Error: b.Error, Time: b.Time})
	}
	slices.SortFunc(out.BadRevisions, func(a, b BadRevision) int { return cmp.Compare(a.Revision, b.Revision) })
	if p := rec.Progress; p != nil {
		out.Rollout = &Rollout{
			InProgress: p.Finished.IsZero(),
			Commit:     p.Commit,
			From:       p.From,
			Target:     p.Target,
			Step:       p.Step + 1,
			StepTarget: p.StepTarget,
			Moved:      len(p.Restarted),
			Started:    p.Started,
			Finished:   p.Finished,
		}
	}
	return out
}
