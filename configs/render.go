package configs

import (
	"bytes"
	"errors"
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

// templateError is a template syntax error, with the line it is on, or a
// limit of the load crossed while rendering (limit set, line 0).
type templateError struct {
	line  int
	msg   string
	limit *limitError
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
// errors; a template that does not parse at all is an error, and so is one
// that crosses a limit of the load (the error's limit is then set).
func renderLenient(b *budget, name, text string, data map[string]any) (*rendered, *templateError) {
	tmpl, err := parseTemplate(b, name, text)
	if err != nil {
		return nil, newTemplateError(err, name, 0)
	}
	full, err := executeTemplate(b, tmpl, data)
	if err == nil {
		return &rendered{text: full}, nil
	}
	if le := limitOf(err); le != nil {
		return nil, &templateError{msg: "refused: " + le.Error(), limit: le}
	}
	if strings.Contains(err.Error(), "exceeded maximum template depth") {
		// text/template's own bound on nested calls: a template that
		// calls itself. Rendering it piecewise would only fail again.
		return nil, &templateError{msg: "refused: templates call each other more deeply than text/template allows (a template that calls itself?)"}
	}
	// Something failed: render again one top-level node at a time, keeping
	// what renders and marking what does not. The nodes come from a parse
	// without parseTemplate's step actions, so that their source reads as
	// written.
	plain, err := template.New(name).Option("missingkey=error").Funcs(b.templateFuncs()).Parse(text)
	if err != nil {
		return nil, newTemplateError(err, name, 0)
	}
	out := &rendered{unresolved: map[string]unresolvedTemplate{}}
	var buf bytes.Buffer
	for _, n := range plain.Tree.Root.Nodes {
		if t, ok := n.(*parse.TextNode); ok {
			buf.Write(t.Text)
			continue
		}
		src := n.String()
		var part string
		sub, err := parseTemplate(b, name, src)
		if err == nil {
			part, err = executeTemplate(b, sub, data)
		}
		if le := limitOf(err); le != nil {
			return nil, &templateError{msg: "refused: " + le.Error(), limit: le}
		}
		if err == nil {
			buf.WriteString(part)
			continue
		}
		id := strconv.Itoa(len(out.unresolved))
		out.unresolved[id] = unresolvedTemplate{
			expr: clip(src),
			line: 1 + strings.Count(text[:min(int(n.Position()), len(text))], "\n"),
			err:  clip(cleanTemplateError(err)),
		}
		fmt.Fprintf(&buf, "%s%s__", sentinelPrefix, id)
	}
	out.text = buf.String()
	return out, nil
}

// Templates in the config repo (the values file's, the manifests') run
// inside the load's budget: what they write and what print, printf,
// println, html, js and urlquery build counts against TemplateBytes, and
// every range iteration and template call against TemplateSteps, so that
// neither {{ range 2000000000 }}x{{ end }} nor an empty loop nor a string
// doubled in a loop outlives its limit by more than one step.

// stepFunc is the function parseTemplate calls at the top of every range
// body and every template.
const stepFunc = "meshopsTemplateStep"

// parseTemplate parses text as a Go template (missing keys are errors) whose
// execution draws on b.
func parseTemplate(b *budget, name, text string) (*template.Template, error) {
	funcs := b.templateFuncs()
	tmpl, err := template.New(name).Option("missingkey=error").Funcs(funcs).Parse(text)
	if err != nil {
		return nil, err
	}
	step, err := template.New("step").Funcs(funcs).Parse("{{" + stepFunc + "}}")
	if err != nil {
		return nil, err
	}
	action := step.Tree.Root.Nodes[0]
	for _, t := range tmpl.Templates() {
		if t.Tree == nil || t.Tree.Root == nil {
			continue
		}
		addSteps(t.Tree.Root, action)
		t.Tree.Root.Nodes = append([]parse.Node{action}, t.Tree.Root.Nodes...)
	}
	return tmpl, nil
}

// addSteps puts action at the top of every range body below list.
func addSteps(list *parse.ListNode, action parse.Node) {
	if list == nil {
		return
	}
	for _, n := range list.Nodes {
		switch n := n.(type) {
		case *parse.RangeNode:
			addSteps(n.List, action)
			addSteps(n.ElseList, action)
			if n.List != nil {
				n.List.Nodes = append([]parse.Node{action}, n.List.Nodes...)
			}
		case *parse.IfNode:
			addSteps(n.List, action)
			addSteps(n.ElseList, action)
		case *parse.WithNode:
			addSteps(n.List, action)
			addSteps(n.ElseList, action)
		}
	}
}

// executeTemplate runs tmpl over data and returns what it wrote; the error
// wraps a *limitError when a limit was crossed.
func executeTemplate(b *budget, tmpl *template.Template, data any) (string, error) {
	w := &budgetWriter{b: b}
	err := tmpl.Execute(w, data)
	return w.buf.String(), err
}

// limitOf returns the limit err crossed, or nil.
func limitOf(err error) *limitError {
	var le *limitError
	if errors.As(err, &le) {
		return le
	}
	return nil
}

// budgetWriter collects template output within TemplateBytes.
type budgetWriter struct {
	b   *budget
	buf bytes.Buffer
}

func (w *budgetWriter) Write(p []byte) (int, error) {
	if err := w.b.addTemplateBytes(len(p)); err != nil {
		return 0, err
	}
	return w.buf.Write(p)
}

// templateFuncs are the step function and bounded versions of the
// builtins that build strings. Each checks, before building, that the
// result cannot cross TemplateBytes, and then counts it.
func (b *budget) templateFuncs() template.FuncMap {
	// fits checks that a result of at most n bytes stays within the limit.
	fits := func(n int) error {
		if e := b.crossed(); e != nil {
			return e
		}
		if b.templateBytes.Load()+int64(n) > b.limits.TemplateBytes {
			return b.addTemplateBytes(n)
		}
		return nil
	}
	produced := func(s string) (string, error) {
		if err := b.addTemplateBytes(len(s)); err != nil {
			return "", err
		}
		return s, nil
	}
	bounded := func(factor int, f func(...any) string) func(...any) (string, error) {
		return func(args ...any) (string, error) {
			if err := fits(factor * argBytes(args)); err != nil {
				return "", err
			}
			return produced(f(args...))
		}
	}
	return template.FuncMap{
		stepFunc: func() (string, error) {
			if err := b.templateStep(); err != nil {
				return "", err
			}
			return "", nil
		},
		"print":   bounded(1, fmt.Sprint),
		"println": bounded(1, fmt.Sprintln),
		"printf": func(format string, args ...any) (string, error) {
			if err := fits(printfBytes(format) + argBytes(args)); err != nil {
				return "", err
			}
			return produced(fmt.Sprintf(format, args...))
		},
		// The escapers write at most 6 bytes per byte (js: \u003C).
		"html":     bounded(6, template.HTMLEscaper),
		"js":       bounded(6, template.JSEscaper),
		"urlquery": bounded(6, template.URLQueryEscaper),
	}
}

// argBytes bounds what printing args takes: their length if strings, else
// a small number (template data holds strings, numbers and booleans).
func argBytes(args []any) int {
	n := 0
	for _, a := range args {
		if s, ok := a.(string); ok {
			n += len(s) + 1
		} else {
			n += 32
		}
	}
	return n
}

// printfBytes bounds the bytes printf's format adds: its own length plus
// every width and precision it asks for (fmt caps each at 1e6; "*" takes
// one from the arguments, so it counts as the cap).
func printfBytes(format string) int {
	const widthCap = 1_000_000
	n := len(format)
	num := 0
	inVerb := false
	for i := 0; i < len(format); i++ {
		c := format[i]
		switch {
		case !inVerb:
			inVerb = c == '%'
		case c >= '0' && c <= '9':
			num = min(num*10+int(c-'0'), widthCap)
		case c == '*':
			n += widthCap
		case strings.IndexByte("+-# .[]", c) >= 0:
			n += num
			num = 0
		default:
			n += num
			num = 0
			inVerb = false
		}
	}
	return n + num
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
