package configs

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Context says which cluster the values are resolved for. Its fields are the
// .ctx variables of the values templates and choose the layers.
type Context struct {
	Cloud       string `json:"cloud,omitempty"`
	Environment string `json:"environment,omitempty"`
	Region      string `json:"region,omitempty"`
	RegionShort string `json:"regionShort,omitempty"`
	Stamp       string `json:"stamp,omitempty"`
}

// String renders a context as cloud/environment/region for messages.
func (c Context) String() string {
	parts := []string{c.Cloud, c.Environment, c.Region}
	for len(parts) > 0 && parts[len(parts)-1] == "" {
		parts = parts[:len(parts)-1]
	}
	if len(parts) == 0 {
		return "defaults only"
	}
	return strings.Join(parts, "/")
}

// templateData is what values templates see. Only the context fields that
// were given are present, so a template over a missing one is unresolved
// (and fails only if read) rather than rendered as an empty string.
func (c Context) templateData() map[string]any {
	ctx := map[string]any{}
	for k, v := range map[string]string{
		"cloud": c.Cloud, "environment": c.Environment, "region": c.Region,
		"regionShort": c.RegionShort, "stamp": c.Stamp,
	} {
		if v != "" {
			ctx[k] = v
		}
	}
	return map[string]any{"ctx": ctx}
}

// Values is a resolved values file: the merged layers (or the plain file),
// every value with the line it came from.
type Values struct {
	file      string
	root      *node
	templates map[string]unresolvedTemplate
	layered   bool
	// files are every values file merged, in order (file is the first);
	// origin names the file of each value that came from a later one.
	files  []string
	origin map[*node]string
}

// File is the values file, relative to the repo root: the first one when
// overlays are merged over it (Files lists them all).
func (v *Values) File() string { return v.file }

// Files are the values files merged, in order, relative to the repo root.
func (v *Values) Files() []string {
	if len(v.files) == 0 {
		return []string{v.file}
	}
	return v.files
}

// fileOf is the file a value was written in: an overlay's for a value it
// set, else the first file (mappings merged from several files count as
// the first file's).
func (v *Values) fileOf(n *node) string {
	if f, ok := v.origin[n]; ok {
		return f
	}
	return v.file
}

// Layered reports whether the file was in the layered format (defaults /
// clouds / environments / regions) rather than a plain values file.
func (v *Values) Layered() bool { return v.layered }

// Map returns the resolved values as plain Go values. Keys whose value
// needs a template meshops could not render (e.g. over .ev2) are left out;
// Lookup reports them.
func (v *Values) Map() map[string]any {
	m, ok := v.root.value()
	if mm, isMap := m.(map[string]any); ok && isMap {
		return mm
	}
	return map[string]any{}
}

// Lookup returns the value at path (one key per element, so keys may contain
// dots) and the line it was written on. found is false when the path does
// not exist. err is a Problem when the value needs a template meshops could
// not render.
func (v *Values) Lookup(path ...string) (value any, line int, found bool, err error) {
	n, err := v.lookupNode(path...)
	if n == nil || err != nil {
		return nil, 0, false, err
	}
	val, _ := n.value()
	return val, n.line, true, nil
}

// lookupNode is Lookup returning the tree node; nil when absent.
func (v *Values) lookupNode(path ...string) (*node, error) {
	n := v.root
	for _, k := range path {
		n = n.get(k)
		if n == nil {
			return nil, nil
		}
	}
	if err := v.unresolvedProblem(n, strings.Join(path, ".")); err != nil {
		return n, err
	}
	return n, nil
}

// unresolvedProblem reports the first unrendered template inside n, if any.
func (v *Values) unresolvedProblem(n *node, field string) error {
	id, line := firstUnresolved(n)
	if id == "" {
		return nil
	}
	t := v.templates[id]
	fix := "give meshops the value (meshops.yaml or --cloud/--environment/--region) or override " + field + " with a plain value in a later layer"
	if strings.Contains(t.expr, ".ev2") {
		fix = "meshops has no .ev2 values: override " + field + " with a plain value in the clouds.<cloud>.environments.<env> layer"
	}
	return Problem{
		File: v.templateFile(id), Line: line, Field: field,
		Message: fmt.Sprintf("value needs the template %s, which meshops cannot render: %s", t.expr, t.err),
		Fix:     fix,
	}
}

// firstUnresolved finds an unresolved template id in n or below, with the
// line of the value that holds it.
func firstUnresolved(n *node) (string, int) {
	if n == nil {
		return "", 0
	}
	if len(n.unresolved) > 0 {
		return n.unresolved[0], n.line
	}
	for _, e := range n.entries {
		if id, l := firstUnresolved(e.val); id != "" {
			return id, l
		}
	}
	for _, it := range n.items {
		if id, l := firstUnresolved(it); id != "" {
			return id, l
		}
	}
	return "", 0
}

// parseValues reads and resolves one values file for ctx; see
// readValuesSource and resolveValues for several files merged in order.
func parseValues(file string, data []byte, ctx Context) (*Values, Problems) {
	src, probs := readValuesSource(file, data, ctx)
	if src == nil {
		return nil, probs
	}
	v, ps := resolveValues([]*valuesSource{src}, ctx)
	return v, append(probs, ps...)
}

// valuesSource is one values file parsed, and rendered over ctx when it is
// layered, but its layers not merged yet: overlays merge into it first.
type valuesSource struct {
	file      string
	root      *node
	layered   bool
	templates map[string]unresolvedTemplate
}

// readValuesSource parses a values file. A file whose top level has
// "defaults" or "clouds" is layered: it is rendered as a template over ctx
// and its layers are merged later (resolveValues, layers.go). Any other file
// is a plain values file, used as is.
func readValuesSource(file string, data []byte, ctx Context) (*valuesSource, Problems) {
	var probs Problems
	plain, err := decodeSingle(file, data, nil, 0)
	if err != nil {
		// The layered file may not be valid YAML before rendering (an
		// unquoted {{ .ev2.x }} is a YAML flow mapping), so only give up
		// if it does not look like a template either.
		if !strings.Contains(string(data), "{{") {
			return nil, append(probs, *err)
		}
	}
	if err == nil && !isLayered(plain) {
		if !plain.isNull() && plain.kind != mapNode {
			probs.add(file, plain.line, "", "make the values file a mapping of keys to values",
				"expected a mapping at the top of the values file, got %s", plain.describe())
			return nil, probs
		}
		if plain.isNull() {
			plain = &node{kind: mapNode, line: 1}
		}
		return &valuesSource{file: file, root: plain}, nil
	}

	r, te := renderLenient(file, string(data), ctx.templateData())
	if te != nil {
		probs.add(file, te.line, "", "fix the template syntax (Go text/template)", "values template does not parse: %s", te.msg)
		return nil, probs
	}
	root, perr := decodeSingle(file, []byte(r.text), r.sentinelsIn, 0)
	if perr != nil {
		return nil, append(probs, *perr)
	}
	if !isLayered(root) {
		if err != nil {
			// Not layered after all: the YAML error of the file as written
			// is the one to report.
			return nil, append(probs, *err)
		}
		probs.add(file, 1, "", "use the layered format (defaults, clouds.<cloud>.defaults, ...) or a plain values file without templates",
			"the values file uses templates but has no defaults or clouds layer")
		return nil, probs
	}
	return &valuesSource{file: file, root: root, layered: true, templates: r.unresolved}, probs
}

// isLayered reports whether a parsed values file is in the layered format.
func isLayered(root *node) bool {
	return root != nil && root.kind == mapNode && (root.get("defaults") != nil || root.get("clouds") != nil)
}

// decodeSingle parses data as exactly one YAML document into a tree.
func decodeSingle(file string, data []byte, sentinels func(string) []string, lineOffset int) (*node, *Problem) {
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return &node{kind: scalarNode, line: 1}, nil
		}
		line, msg := yamlErrorLine(err)
		return nil, &Problem{File: file, Line: line + lineOffset, Message: "not valid YAML: " + msg, Fix: "fix the YAML syntax"}
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		line := extra.Line
		if err != nil {
			line, _ = yamlErrorLine(err)
		}
		return nil, &Problem{File: file, Line: line + lineOffset, Message: "expected one YAML document, found more", Fix: "remove the --- separator: this file holds a single document"}
	}
	root, err := newConverter(lineOffset, sentinels).convert(&doc)
	if err != nil {
		var pe *posError
		if errors.As(err, &pe) {
			return nil, &Problem{File: file, Line: pe.line, Message: pe.msg, Fix: "fix the YAML"}
		}
		return nil, &Problem{File: file, Message: err.Error(), Fix: "fix the YAML"}
	}
	return root, nil
}
