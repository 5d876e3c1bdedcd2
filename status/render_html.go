package status

import (
	_ "embed"
	"html/template"
	"io"
	"strings"
	"time"
)

// RefreshSeconds is how often the status page reloads itself: a meta
// refresh, so the page needs no JavaScript.
const RefreshSeconds = 10

//go:embed page.html.tmpl
var pageSource string

// page is parsed once; html/template escapes every value, so record text
// (an error quoting a manifest) cannot inject markup.
var page = template.Must(template.New("page").Funcs(template.FuncMap{
	"orDash":       orDash,
	"orNone":       orNone,
	"join":         func(s []string) string { return strings.Join(s, ", ") },
	"tagStatus":    tagStatus,
	"istiod":       istiodStatus,
	"inVersions":   inVersions,
	"rolloutLabel": rolloutLabel,
	"hasUnknown":   hasUnknown,
	// when and rolloutText are bound to the report's time per render.
	"when":        func(time.Time) string { return "" },
	"rolloutText": func(*Rollout) string { return "" },
	"why":         func(Straggler) string { return "" },
}).Parse(pageSource))

// RenderHTML writes the report as a small, self-contained HTML page:
// inline CSS, no JavaScript, a meta refresh every RefreshSeconds.
func RenderHTML(w io.Writer, r Report) error {
	t, err := page.Clone()
	if err != nil {
		return err
	}
	t.Funcs(template.FuncMap{
		"when":        func(at time.Time) string { return when(at, r.Time) },
		"rolloutText": func(ro *Rollout) string { return rolloutText(ro, r.Time) },
		"why":         func(s Straggler) string { return stragglerWhy(s, r.Tag) },
	})
	return t.Execute(w, struct {
		R       Report
		Refresh int
		Unknown string
	}{r, RefreshSeconds, UnknownExplained})
}

// hasUnknown says whether a pod runs on UnknownRevision, so the page
// explains it.
func hasUnknown(r Report) bool {
	for _, rv := range r.Revisions {
		if rv.Unknown {
			return true
		}
	}
	return false
}
