package status

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"
)

// RenderText writes the report as one screen, in kubectl's columns: the
// tag, the revisions, the stragglers, then meshops' record.
func RenderText(w io.Writer, r Report) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TAG\tREVISION\tSTATUS")
	fmt.Fprintf(tw, "%s\t%s\t%s\n", orDash(r.Tag.Name), orDash(r.Tag.Revision), tagStatus(r.Tag))
	fmt.Fprintln(tw)

	unknown := false
	if len(r.Revisions) == 0 {
		fmt.Fprintln(tw, "revisions: no istiod, injector or injected pod found")
	} else {
		fmt.Fprintln(tw, "REVISION\tTAGS\tISTIOD\tIN VERSIONS\tWORKLOADS\tPODS\tREASON")
	}
	for _, rv := range r.Revisions {
		reason := rv.Reason
		if rv.Unknown {
			// The explanation is long; it follows the tables once.
			unknown, reason = true, "the proxy names no revision (see below)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\t%s\n", rv.Name, orDash(strings.Join(rv.Tags, ",")),
			istiodStatus(rv), inVersions(rv), rv.Workloads, rv.Pods, reason)
	}
	fmt.Fprintln(tw)

	if len(r.Stragglers) == 0 {
		fmt.Fprintf(tw, "stragglers: none of %d workloads\n", r.Workloads)
	} else {
		fmt.Fprintf(tw, "STRAGGLER (%d of %d workloads)\tREVISIONS\tPODS\tWHY\n", len(r.Stragglers), r.Workloads)
		for _, s := range r.Stragglers {
			fmt.Fprintf(tw, "%s\t%s\t%d\t%s\n", s.Workload, strings.Join(s.Revisions, ","), s.Pods, stragglerWhy(s, r.Tag))
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if unknown {
		fmt.Fprintf(w, "%s: %s\n", UnknownRevision, UnknownExplained)
	}
	fmt.Fprintln(w)
	return renderRecordText(w, r)
}

func renderRecordText(w io.Writer, r Report) error {
	rec := r.Record
	if rec == nil {
		_, err := fmt.Fprintln(w, "meshops record: not read")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	line := func(k, v string) { fmt.Fprintf(tw, "%s\t%s\n", k, v) }
	line("suspended", strconv.FormatBool(rec.Suspended))
	line("last result", orNone(string(rec.LastResult)))
	if rec.LastError != "" {
		line("last error", OneLine(rec.LastError))
	}
	line("last applied commit", orNone(rec.LastAppliedCommit))
	line("last run", when(rec.LastRun, r.Time))
	line("next run", when(rec.NextRun, r.Time))
	if rec.SourceError != "" {
		line("git source error", OneLine(rec.SourceError)+" (since "+when(rec.SourceErrorSince, r.Time)+")")
	}
	for _, b := range rec.BadRevisions {
		line("bad revision", fmt.Sprintf("%s at commit %s, %s: %s", b.Revision, orNone(b.Commit), when(b.Time, r.Time), OneLine(b.Error)))
	}
	if ro := rec.Rollout; ro != nil {
		line(rolloutLabel(ro), rolloutText(ro, r.Time))
	}
	return tw.Flush()
}

func tagStatus(t Tag) string {
	switch {
	case t.Name == "":
		return "no tag given, and the cluster has none or several"
	case !t.Found:
		return "no webhook for this tag"
	}
	return "found"
}

func istiodStatus(rv Revision) string {
	switch {
	case rv.Unknown:
		return "-"
	case !rv.Installed:
		return "not installed"
	case rv.Healthy:
		return "healthy"
	}
	return "unhealthy"
}

func inVersions(rv Revision) string {
	switch {
	case rv.InVersions == nil:
		return "-"
	case *rv.InVersions:
		return "yes"
	}
	return "no"
}

func stragglerWhy(s Straggler, t Tag) string {
	if s.Reason == Unknown {
		return "a proxy that names no revision (" + UnknownRevision + ")"
	}
	return fmt.Sprintf("on tag %s, which points at %s: a restart moves it", t.Name, t.Revision)
}

func rolloutLabel(ro *Rollout) string {
	if ro.InProgress {
		return "rollout in progress"
	}
	return "last rollout"
}

func rolloutText(ro *Rollout, now time.Time) string {
	s := fmt.Sprintf("%s → %s at commit %s, step %d", orNone(ro.From), ro.Target, orNone(ro.Commit), ro.Step)
	if ro.StepTarget != "" {
		s += " (" + ro.StepTarget + ")"
	}
	s += fmt.Sprintf(", workloads moved: %d, started %s", ro.Moved, when(ro.Started, now))
	if !ro.InProgress {
		s += ", finished " + when(ro.Finished, now)
	}
	return s
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// OneLine keeps a multi-line error on its row (or on a line of sync's
// progress), and writes control characters (a terminal escape quoted from
// hostile input) as '?' instead of sending them to the terminal.
func OneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == unicode.ReplacementChar {
			return '?'
		}
		return r
	}, s)
}

// when is an absolute UTC time and how long ago or from now it is.
func when(t, now time.Time) string {
	if t.IsZero() {
		return "(never)"
	}
	return t.UTC().Format(time.RFC3339) + " (" + relative(t, now) + ")"
}

// relative says how long ago or from now t is, to the second.
func relative(t, now time.Time) string {
	d := now.Sub(t).Round(time.Second)
	if d < 0 {
		return "in " + (-d).String()
	}
	return d.String() + " ago"
}
