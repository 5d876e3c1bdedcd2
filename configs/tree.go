package configs

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// sigs.k8s.io/yaml converts YAML to JSON and loses every line number, but
// each Problem must name its line. So documents are decoded into yaml.v3
// nodes and converted once into this small tree, which keeps the line of
// every key and value and yields plain JSON-compatible Go values (the types
// unstructured.Unstructured accepts: map[string]any, []any, string, int64,
// float64, bool, nil).

type nodeKind int

const (
	scalarNode nodeKind = iota
	mapNode
	listNode
)

// node is one YAML value with the line it starts on.
type node struct {
	kind nodeKind
	line int

	// scalar is the decoded value of a scalar node; text its source text,
	// used in messages ("got %q").
	scalar any
	text   string

	entries []entry // mapping entries, in document order
	// index maps key → position in entries, only for mappings of
	// indexFrom keys or more: a map per mapping was half the weight of a
	// fleet's 10,000 manifests, and most mappings have a handful of keys.
	index map[string]int
	items []*node // sequence items

	// unresolved lists the ids of template actions in this value (or its
	// key) that could not be rendered; see render.go. Only values files
	// have them.
	unresolved []string
}

// entry is one key of a mapping, with the line the key is written on.
type entry struct {
	key  string
	line int
	val  *node
}

// indexFrom is the size from which a mapping keeps an index of its keys;
// below it a scan is as fast.
const indexFrom = 16

// find returns the position of key in a mapping node's entries.
func (n *node) find(key string) (int, bool) {
	if n == nil || n.kind != mapNode {
		return 0, false
	}
	if n.index != nil {
		i, ok := n.index[key]
		return i, ok
	}
	for i := range n.entries {
		if n.entries[i].key == key {
			return i, true
		}
	}
	return 0, false
}

// add appends an entry whose key the mapping does not have yet.
func (n *node) add(e entry) {
	n.entries = append(n.entries, e)
	switch {
	case n.index != nil:
		n.index[e.key] = len(n.entries) - 1
	case len(n.entries) >= indexFrom:
		n.index = make(map[string]int, len(n.entries))
		for i := range n.entries {
			n.index[n.entries[i].key] = i
		}
	}
}

// get returns the value of key in a mapping node, or nil.
func (n *node) get(key string) *node {
	if i, ok := n.find(key); ok {
		return n.entries[i].val
	}
	return nil
}

// keyLine returns the line of key in a mapping node, or 0.
func (n *node) keyLine(key string) int {
	if i, ok := n.find(key); ok {
		return n.entries[i].line
	}
	return 0
}

// at follows a path of mapping keys; nil when any step is missing.
func (n *node) at(path ...string) *node {
	for _, k := range path {
		n = n.get(k)
	}
	return n
}

// lineAt returns the line of the deepest key of path that exists, so a
// problem about a missing field points at its nearest existing parent.
func (n *node) lineAt(path ...string) int {
	line := 0
	if n != nil {
		line = n.line
	}
	for _, k := range path {
		if l := n.keyLine(k); l > 0 {
			line = l
		} else {
			return line
		}
		n = n.get(k)
	}
	return line
}

// isNull reports whether n is absent or an explicit null.
func (n *node) isNull() bool { return n == nil || (n.kind == scalarNode && n.scalar == nil) }

// describe names the type of a node for messages ("a string", "a list").
func (n *node) describe() string {
	switch {
	case n == nil:
		return "nothing"
	case n.kind == mapNode:
		return "a mapping"
	case n.kind == listNode:
		return "a list"
	}
	switch n.scalar.(type) {
	case nil:
		return "null"
	case string:
		return fmt.Sprintf("the string %q", clip(n.text))
	case bool:
		return "the boolean " + clip(n.text)
	case int64, float64:
		return "the number " + clip(n.text)
	}
	return strconv.Quote(clip(n.text))
}

// value converts the tree into plain Go values. Values whose template could
// not be rendered are left out of mappings; a list holding one is left out
// as a whole, since a partial list would be a different list.
func (n *node) value() (any, bool) {
	if n == nil {
		return nil, true
	}
	if len(n.unresolved) > 0 {
		return nil, false
	}
	switch n.kind {
	case mapNode:
		m := make(map[string]any, len(n.entries))
		for _, e := range n.entries {
			if v, ok := e.val.value(); ok {
				m[e.key] = v
			}
		}
		return m, true
	case listNode:
		l := make([]any, 0, len(n.items))
		for _, it := range n.items {
			v, ok := it.value()
			if !ok {
				return nil, false
			}
			l = append(l, v)
		}
		return l, true
	}
	return n.scalar, true
}

// posError is a conversion error at a line of the document.
type posError struct {
	line int
	msg  string
	// limit is set when a limit of the load was crossed.
	limit *limitError
}

// fixOr is the fix for the error: the limit's, else def.
func (e *posError) fixOr(def string) string {
	if e.limit != nil {
		return e.limit.fix
	}
	return def
}

func (e *posError) Error() string { return fmt.Sprintf("line %d: %s", e.line, e.msg) }

// converter turns yaml.v3 nodes into a tree.
type converter struct {
	// lineOffset is added to every yaml.v3 line: documents are parsed one
	// chunk at a time, and lines must count from the top of the file.
	lineOffset int
	// sentinel, when set, marks scalars containing unresolved templates.
	sentinels func(string) []string
	// budget bounds the values of the whole load, and those reached
	// through aliases, so that an alias bomb ("billion laughs") fails fast
	// however it is spread over documents and files.
	budget *budget
	active map[*yaml.Node]bool // anchors being expanded, to catch cycles
}

// newConverter returns a converter drawing on b (nil: a budget of its own).
func newConverter(b *budget, lineOffset int, sentinels func(string) []string) *converter {
	if b == nil {
		b = newBudget(DefaultLimits())
	}
	return &converter{lineOffset: lineOffset, sentinels: sentinels, budget: b, active: map[*yaml.Node]bool{}}
}

func (c *converter) errorf(n *yaml.Node, format string, args ...any) error {
	return &posError{line: n.Line + c.lineOffset, msg: fmt.Sprintf(format, args...)}
}

func (c *converter) convert(n *yaml.Node) (*node, error) {
	if err := c.budget.addValue(len(c.active) > 0); err != nil {
		return nil, &posError{line: n.Line + c.lineOffset, msg: "refused: " + err.Error(), limit: err}
	}
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return &node{kind: scalarNode, line: n.Line + c.lineOffset}, nil
		}
		return c.convert(n.Content[0])
	case yaml.AliasNode:
		if n.Alias == nil {
			return nil, c.errorf(n, "alias *%s has no anchor", n.Value)
		}
		if c.active[n.Alias] {
			return nil, c.errorf(n, "alias *%s refers to a value that contains it", n.Value)
		}
		c.active[n.Alias] = true
		defer delete(c.active, n.Alias)
		return c.convert(n.Alias)
	case yaml.ScalarNode:
		return c.scalar(n)
	case yaml.SequenceNode:
		out := &node{kind: listNode, line: n.Line + c.lineOffset}
		for _, it := range n.Content {
			v, err := c.convert(it)
			if err != nil {
				return nil, err
			}
			out.items = append(out.items, v)
		}
		return out, nil
	case yaml.MappingNode:
		return c.mapping(n)
	}
	return nil, c.errorf(n, "unsupported YAML node kind %d", n.Kind)
}

func (c *converter) scalar(n *yaml.Node) (*node, error) {
	out := &node{kind: scalarNode, line: n.Line + c.lineOffset, text: n.Value}
	if c.sentinels != nil {
		out.unresolved = c.sentinels(n.Value)
	}
	switch n.ShortTag() {
	case "!!null":
		out.scalar = nil
	case "!!bool":
		var b bool
		if err := n.Decode(&b); err != nil {
			return nil, c.errorf(n, "%q is not a boolean", clip(n.Value))
		}
		out.scalar = b
	case "!!int":
		var i int64
		if err := n.Decode(&i); err != nil {
			// Too big for int64: Kubernetes would read it as a float too.
			var f float64
			if ferr := n.Decode(&f); ferr != nil || math.IsInf(f, 0) {
				return nil, c.errorf(n, "%q is not a representable integer", clip(n.Value))
			}
			out.scalar = f
			return out, nil
		}
		out.scalar = i
	case "!!float":
		var f float64
		if err := n.Decode(&f); err != nil {
			return nil, c.errorf(n, "%q is not a number", clip(n.Value))
		}
		// JSON, and so the API server, has no NaN or infinity.
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, c.errorf(n, "%q is not a finite number", clip(n.Value))
		}
		out.scalar = f
	default:
		// Strings, timestamps, binary and custom tags keep their text, as
		// the JSON form Kubernetes uses would.
		out.scalar = n.Value
	}
	return out, nil
}

func (c *converter) mapping(n *yaml.Node) (*node, error) {
	out := &node{kind: mapNode, line: n.Line + c.lineOffset}
	var merges []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.AliasNode && k.Alias != nil {
			k = k.Alias
		}
		if k.Kind != yaml.ScalarNode {
			return nil, c.errorf(n.Content[i], "mapping keys must be plain values, not a %s (an unquoted {{ template }} as a key?)", kindName(k.Kind))
		}
		if k.ShortTag() == "!!merge" {
			merges = append(merges, v)
			continue
		}
		key := k.Value
		if j, dup := out.find(key); dup {
			return nil, c.errorf(k, "key %q is already defined at line %d", key, out.entries[j].line)
		}
		val, err := c.convert(v)
		if err != nil {
			return nil, err
		}
		if c.sentinels != nil {
			// A key whose template is unresolved makes its whole value unknown.
			val.unresolved = append(val.unresolved, c.sentinels(key)...)
		}
		out.add(entry{key: key, line: k.Line + c.lineOffset, val: val})
	}
	// YAML merge keys (<<: *base) fill in only keys not written explicitly;
	// earlier sources win over later ones, as YAML 1.1 specifies.
	for _, m := range merges {
		srcs := []*yaml.Node{m}
		if m.Kind == yaml.SequenceNode {
			srcs = m.Content
		}
		for _, s := range srcs {
			sv, err := c.convert(s)
			if err != nil {
				return nil, err
			}
			if sv.kind != mapNode {
				return nil, c.errorf(s, "the merge key << needs a mapping or a list of mappings, got %s", sv.describe())
			}
			for _, e := range sv.entries {
				if _, ok := out.find(e.key); ok {
					continue
				}
				out.add(e)
			}
		}
	}
	return out, nil
}

func kindName(k yaml.Kind) string {
	switch k {
	case yaml.MappingNode:
		return "mapping"
	case yaml.SequenceNode:
		return "list"
	case yaml.ScalarNode:
		return "scalar"
	case yaml.AliasNode:
		return "alias"
	case yaml.DocumentNode:
		return "document"
	}
	return "node"
}

// joinPath appends a key to a dotted field path.
func joinPath(base, key string) string {
	if base == "" {
		return key
	}
	return base + "." + key
}

// indexPath appends a list index to a field path.
func indexPath(base string, i int) string { return base + "[" + strconv.Itoa(i) + "]" }

// yamlParserErrors are the messages yaml.v3 raises from its parser (rather
// than its scanner). For these it reports the 0-based line of the enclosing
// construct (and no line at all when that is the first line), while scanner
// errors carry 1-based lines; yamlErrorLine evens that out.
var yamlParserErrors = []string{
	"did not find expected <stream-start>",
	"did not find expected <document start>",
	"did not find expected node content",
	"did not find expected '-' indicator",
	"did not find expected key",
	"did not find expected ',' or ']'",
	"did not find expected ',' or '}'",
	"found undefined tag handle",
	"found duplicate %YAML directive",
	"found duplicate %TAG directive",
	"found incompatible YAML document",
}

// yamlErrorLine splits a yaml.v3 error ("yaml: line 3: did not find …")
// into its 1-based line and message; line is 0 when the error has none.
func yamlErrorLine(err error) (int, string) {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 0
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if i := strings.Index(rest, ": "); i > 0 {
			if n, convErr := strconv.Atoi(rest[:i]); convErr == nil {
				line, msg = n, rest[i+2:]
			}
		}
	}
	if slices.Contains(yamlParserErrors, msg) {
		line++
	}
	return line, msg
}
