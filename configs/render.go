package configs

import (
	"bytes"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"text/template"
	"text/template/parse"
)

// The layered values file is a Go template over .ctx (cloud, environment,
// region, regionShort, stamp) and .ev2 (a central deployment config meshops
// never sees), rendered as text before it is parsed as YAML, the way ARO
// HCP's own tooling does it. A template over a value meshops was not given
// must only fail when meshops reads the key that holds it, so rendering is
// lenient: each action that cannot be rendered is replaced by a sentinel
// word, and the YAML value that ends up containing that word is "unresolved".
// Reading it (Values.lookup) reports the template and why it failed.

// sentinelPrefix starts every placeholder word. It is plain ASCII so that it
// survives any YAML quoting style and never changes the line count.
const sentinelPrefix = "__meshops_unresolved_"

var sentinelRE = regexp.MustCompile(sentinelPrefix + `([0-9]+)__`)

// unresolvedTemplate is one template action that could not be rendered.
type unresolvedTemplate struct {
	expr string // the action as written, e.g. {{.ev2.cloudName}}
	line int
	err  string // why it failed, e.g. map has no entry for key "ev2"
}

// rendered is a values file after lenient rendering.
type rendered struct {
	text       string
	unresolved map[string]unresolvedTemplate // sentinel id → template
}

// sentinelsIn returns the ids of the placeholders inside s.
func (r *rendered) sentinelsIn(s string) []string {
	if !strings.Contains(s, sentinelPrefix) {
		return nil
	}
	var ids []string
	for _, m := range sentinelRE.FindAllStringSubmatch(s, -1) {
		if _, ok := r.unresolved[m[1]]; ok {
			ids = append(ids, m[1])
		}
	}
	return ids
}

// templateError is a template syntax error, with the line it is on.
type templateError struct {
	line int
	msg  string
}

func (e *templateError) Error() string { return e.msg }

// templateErrRE finds "name:LINE:" in text/template error messages.
var templateErrRE = regexp.MustCompile(`^template: [^:]*:(\d+):(?:\d+:)? ?(.*)$`)

// newTemplateError reads the line out of a text/template error. Templates
// are parsed one document at a time, so lines inside the message ("unclosed
// action started at name:4") are moved by lineOffset to count from the top
// of the file, like every other line meshops reports.
func newTemplateError(err error, name string, lineOffset int) *templateError {
	msg := err.Error()
	shift := func(s string) string {
		if lineOffset == 0 {
			return s
		}
		re := regexp.MustCompile(regexp.QuoteMeta(name) + `:(\d+)`)
		return re.ReplaceAllStringFunc(s, func(m string) string {
			n, _ := strconv.Atoi(m[len(name)+1:])
			return name + ":" + strconv.Itoa(n+lineOffset)
		})
	}
	if m := templateErrRE.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		return &templateError{line: line + lineOffset, msg: shift(m[2])}
	}
	return &templateError{line: lineOffset, msg: shift(strings.TrimPrefix(msg, "template: "))}
}

// renderLenient renders text as a Go template over data. Actions that fail
// (a missing key, an undefined function result) become sentinels instead of
// errors; a template that does not parse at all is an error.
func renderLenient(name, text string, data map[string]any) (*rendered, *templateError) {
	tmpl, err := template.New(name).Option("missingkey=error").Parse(text)
	if err != nil {
		return nil, newTemplateError(err, name, 0)
	}
	var buf bytes.Buffer
	if err := tmpl.Execute(&buf, data); err == nil {
		return &rendered{text: buf.String()}, nil
	}
	// Something failed: render again one top-level node at a time, keeping
	// what renders and marking what does not.
	out := &rendered{unresolved: map[string]unresolvedTemplate{}}
	buf.Reset()
	for _, n := range tmpl.Tree.Root.Nodes {
		if t, ok := n.(*parse.TextNode); ok {
			buf.Write(t.Text)
			continue
		}
		src := n.String()
		var part bytes.Buffer
		sub, err := template.New(name).Option("missingkey=error").Parse(src)
		if err == nil {
			err = sub.Execute(&part, data)
		}
		if err == nil {
			buf.Write(part.Bytes())
			continue
		}
		id := strconv.Itoa(len(out.unresolved))
		out.unresolved[id] = unresolvedTemplate{
			expr: src,
			line: 1 + strings.Count(text[:min(int(n.Position()), len(text))], "\n"),
			err:  cleanTemplateError(err),
		}
		fmt.Fprintf(&buf, "%s%s__", sentinelPrefix, id)
	}
	out.text = buf.String()
	return out, nil
}

// cleanTemplateError keeps the useful tail of an execution error:
// `template: x:1:7: executing "x" at <.ev2.cloudName>: map has no entry for key "ev2"`
// becomes `map has no entry for key "ev2"`.
func cleanTemplateError(err error) string {
	msg := err.Error()
	if i := strings.LastIndex(msg, ">: "); i >= 0 {
		return msg[i+3:]
	}
	return strings.TrimPrefix(msg, "template: ")
}
