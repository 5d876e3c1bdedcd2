package configs

import (
	"strings"
	"sync"
)

// A fleet's repo is thousands of small documents written in a narrow
// slice of YAML: block mappings and sequences, one-line flow collections,
// plain words and quoted strings without escapes. yaml.v3 spends about
// 40 µs and 30 allocations per value on such a document, building its own
// node tree that convert then copies; for 10,000 policies that was most of
// a load. quickParse reads that slice of YAML straight into the tree, and
// declines anything else (anchors, tags, block scalars, escapes, numbers
// other than plain integers, multi-line values, tabs, non-ASCII, anything
// it finds odd), so that yaml.v3 reads it and reports errors exactly as
// before. What it accepts it must read exactly as yaml.v3 and convert do:
// FuzzQuickParse compares the two trees.

// qline is one line of a document that holds content.
type qline struct {
	no     int    // 1-based line in the document
	indent int    // columns before text
	text   string // the rest, without trailing spaces or comment-only tails
}

// quickParser walks the content lines of one document. A tree lives only
// until its manifest is built, so one parser serves document after
// document (quickParsers), reusing its lines and nodes: they were half of
// what a load allocated, and the collector's work grows with that.
type quickParser struct {
	lines []qline
	// chunks hold the nodes, nodeChunk to a chunk, so that a node never
	// moves once handed out; used counts those handed out.
	chunks [][]node
	used   int

	pos    int
	offset int // added to every line, as converter.lineOffset
	values int // values built, as the converter counts them
	depth  int // collections open
	// maxValues is what is left of the load's Values limit.
	maxValues int
}

const nodeChunk = 64

// quickParsers are parsers whose last tree is no longer used.
var quickParsers = sync.Pool{New: func() any { return new(quickParser) }}

// node returns a node holding n, in a slot of the parser's chunks; a slot
// reused keeps the capacity of its slices.
func (p *quickParser) node(n node) *node {
	c, i := p.used/nodeChunk, p.used%nodeChunk
	if c == len(p.chunks) {
		p.chunks = append(p.chunks, make([]node, nodeChunk))
	}
	slot := &p.chunks[c][i]
	entries, items := slot.entries[:0], slot.items[:0]
	*slot = n
	slot.entries, slot.items = entries, items
	p.used++
	return slot
}

// collection returns a new mapping or list node, counted as a value.
func (p *quickParser) collection(kind nodeKind, line int) *node {
	p.value()
	return p.node(node{kind: kind, line: line})
}

// value counts one value built.
func (p *quickParser) value() {
	p.values++
	if p.values >= p.maxValues {
		decline()
	}
}

// maxQuickDepth bounds the collections open at once. Manifests nest a
// dozen deep; a deeper document (a hostile "[[[[…" of a megabyte) is left
// to yaml.v3, which has a depth limit of its own, rather than recursing
// here once per byte.
const maxQuickDepth = 64

// enter counts a collection opened, and declines past maxQuickDepth; the
// caller calls leave when it is closed.
func (p *quickParser) enter() {
	p.depth++
	if p.depth > maxQuickDepth {
		decline()
	}
}

func (p *quickParser) leave() { p.depth-- }

// errDecline is the panic quickParse recovers from: not something it reads.
type declined struct{}

func decline() { panic(declined{}) }

// quickParse reads text as one YAML document holding a mapping, with line
// numbers offset by lineOffset, and returns its tree and the number of
// values the converter would have counted (the document node included);
// ok is false when text is outside what it reads, or holds more than
// maxValues values (the converter then says where the limit was crossed).
//
// The tree is made of p's nodes: it is valid until p parses again.
func (p *quickParser) parse(text string, lineOffset, maxValues int) (t *node, values int, ok bool) {
	*p = quickParser{lines: p.lines[:0], chunks: p.chunks, offset: lineOffset, maxValues: maxValues}
	if !p.split(text) || len(p.lines) == 0 {
		return nil, 0, false
	}
	defer func() {
		if r := recover(); r != nil {
			if _, is := r.(declined); !is {
				panic(r)
			}
			t, values, ok = nil, 0, false
		}
	}()
	first := p.lines[0]
	if isSeqItem(first.text) || first.indent != 0 {
		return nil, 0, false
	}
	t = p.mapping(0)
	if p.pos != len(p.lines) {
		return nil, 0, false
	}
	return t, p.values + 1, true
}

// split cuts text into content lines; false for anything it does not
// read: a character other than printable ASCII, a tab, a directive, a
// document marker other than a bare leading ---.
func (p *quickParser) split(text string) bool {
	for i := 0; i < len(text); i++ {
		c := text[i]
		if (c < 0x20 && c != '\n') || c >= 0x7f {
			return false
		}
	}
	no := 0
	for len(text) > 0 {
		no++
		l := text
		if i := strings.IndexByte(text, '\n'); i >= 0 {
			l, text = text[:i], text[i+1:]
		} else {
			text = ""
		}
		trimmed := strings.TrimLeft(l, " ")
		body := strings.TrimRight(trimmed, " ")
		switch {
		case body == "" || body[0] == '#':
			continue
		case strings.HasPrefix(l, "---"):
			if l != "---" || len(p.lines) > 0 {
				return false
			}
			continue
		case strings.HasPrefix(l, "...") || l[0] == '%':
			return false
		}
		p.lines = append(p.lines, qline{no: no, indent: len(l) - len(trimmed), text: body})
	}
	return true
}

func (p *quickParser) line(l qline) int { return l.no + p.offset }

// isSeqItem reports whether a line's text starts a sequence item.
func isSeqItem(s string) bool { return s == "-" || strings.HasPrefix(s, "- ") }

// mapping reads the block mapping whose keys stand at indent.
func (p *quickParser) mapping(indent int) *node {
	p.enter()
	defer p.leave()
	out := p.collection(mapNode, p.line(p.lines[p.pos]))
	for p.pos < len(p.lines) {
		l := p.lines[p.pos]
		if l.indent < indent {
			break
		}
		if l.indent > indent || isSeqItem(l.text) {
			decline()
		}
		key, rest := p.key(l.text)
		if _, dup := out.find(key); dup || key == "<<" {
			decline()
		}
		keyLine := p.line(l)
		p.pos++
		var val *node
		if rest == "" {
			val = p.blockValue(indent)
		} else {
			val = p.inlineValue(rest, keyLine)
			p.endOfValue(indent)
		}
		out.add(entry{key: key, line: keyLine, val: val})
	}
	return out
}

// sequence reads the block sequence whose dashes stand at indent.
func (p *quickParser) sequence(indent int) *node {
	p.enter()
	defer p.leave()
	out := p.collection(listNode, p.line(p.lines[p.pos]))
	for p.pos < len(p.lines) {
		l := p.lines[p.pos]
		if l.indent < indent {
			break
		}
		if l.indent > indent || !isSeqItem(l.text) {
			if l.indent == indent {
				break // the next key of the mapping holding an indentless sequence
			}
			decline()
		}
		rest := strings.TrimLeft(l.text[1:], " ")
		if rest == "" || isSeqItem(rest) {
			decline()
		}
		col := l.indent + len(l.text) - len(rest)
		if _, _, isKey := splitKey(rest); isKey {
			// "- key: value": a mapping whose keys stand at col; read
			// the rest of this line as its first line.
			p.lines[p.pos] = qline{no: l.no, indent: col, text: rest}
			out.items = append(out.items, p.mapping(col))
			continue
		}
		p.pos++
		out.items = append(out.items, p.inlineValue(rest, p.line(l)))
		p.endOfValue(indent)
	}
	return out
}

// blockValue reads the value of a key written alone on its line (at
// indent): a block collection on the lines below.
func (p *quickParser) blockValue(indent int) *node {
	if p.pos >= len(p.lines) {
		decline() // an empty value: left to yaml.v3
	}
	l := p.lines[p.pos]
	switch {
	case l.indent > indent && isSeqItem(l.text):
		return p.sequence(l.indent)
	case l.indent > indent:
		return p.mapping(l.indent)
	case l.indent == indent && isSeqItem(l.text):
		return p.sequence(indent)
	}
	decline()
	return nil
}

// endOfValue declines when a value written on its line goes on below it
// (a multi-line plain scalar, or a YAML error).
func (p *quickParser) endOfValue(indent int) {
	if p.pos < len(p.lines) && p.lines[p.pos].indent > indent {
		decline()
	}
}

// key splits "key: rest" into the key and the rest (empty for "key:").
func (p *quickParser) key(s string) (string, string) {
	key, rest, ok := splitKey(s)
	if !ok {
		decline()
	}
	return key, rest
}

// splitKey splits "key: rest" or "key:", the key plain or quoted; ok is
// false when s is a value rather than a key.
func splitKey(s string) (key, rest string, ok bool) {
	switch s[0] {
	case '{', '[':
		return "", "", false
	case '"', '\'':
		v, n, ok := quoted(s)
		if !ok {
			decline()
		}
		switch after := s[n:]; {
		case after == ":":
			return v, "", true
		case strings.HasPrefix(after, ": "):
			return v, strings.TrimLeft(after[2:], " "), true
		}
		return "", "", false
	}
	end := keyEnd(s)
	if end < 0 {
		return "", "", false
	}
	key = s[:end]
	if !plainStart(key) || strings.Contains(key, " #") || strings.HasSuffix(key, " ") {
		decline()
	}
	return key, strings.TrimLeft(s[end+1:], " "), true
}

// keyEnd is the end of a plain key: the first ": " or a final ":"; -1
// when s has neither.
func keyEnd(s string) int {
	for i := 0; i < len(s); i++ {
		if s[i] == ':' && (i+1 == len(s) || s[i+1] == ' ') {
			return i
		}
	}
	return -1
}

// plainStart reports whether s may start a plain scalar that quickParse
// reads: a letter, digit, / or _; YAML's indicators and the characters
// that start numbers, nulls and special floats are left to yaml.v3.
func plainStart(s string) bool {
	if s == "" {
		return false
	}
	c := s[0]
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '/' || c == '_'
}

// quoted reads the quoted scalar s starts with, on one line and without
// escapes, and returns its value and length; ok is false otherwise.
func quoted(s string) (string, int, bool) {
	q := s[0]
	end := strings.IndexByte(s[1:], q)
	if end < 0 {
		return "", 0, false
	}
	v := s[1 : end+1]
	if q == '"' && strings.IndexByte(v, '\\') >= 0 {
		return "", 0, false
	}
	if q == '\'' && end+2 < len(s) && s[end+2] == '\'' {
		return "", 0, false // '' is an escaped quote
	}
	return v, end + 2, true
}

// inlineValue reads a value written after "key: " or "- ": a one-line
// flow collection, a quoted scalar or a plain one.
func (p *quickParser) inlineValue(s string, line int) *node {
	switch s[0] {
	case '{', '[':
		f := &flowReader{p: p, s: s, line: line}
		v := f.value()
		f.end()
		return v
	case '"', '\'':
		v, n, ok := quoted(s)
		if !ok || !onlyComment(s[n:]) {
			decline()
		}
		p.value()
		return p.node(node{kind: scalarNode, line: line, scalar: v, text: v})
	}
	if strings.Contains(s, ": ") || strings.HasSuffix(s, ":") {
		decline()
	}
	if i := strings.Index(s, " #"); i >= 0 {
		s = strings.TrimRight(s[:i], " ")
	}
	return p.plain(s, line)
}

// onlyComment reports whether what follows a value on its line is nothing
// or a comment.
func onlyComment(s string) bool {
	t := strings.TrimLeft(s, " ")
	return t == "" || (len(t) < len(s) && t[0] == '#')
}

// plain resolves a plain scalar as yaml.v3 does, for the ones it reads:
// words, true/false/null in their three spellings, decimal integers.
func (p *quickParser) plain(s string, line int) *node {
	if !plainStart(s) {
		decline()
	}
	p.value()
	n := p.node(node{kind: scalarNode, line: line, text: s, scalar: s})
	switch s {
	case "true", "True", "TRUE":
		n.scalar = true
	case "false", "False", "FALSE":
		n.scalar = false
	case "null", "Null", "NULL":
		n.scalar = nil
	default:
		if c := s[0]; c >= '0' && c <= '9' {
			n.scalar = decimal(s)
		}
	}
	return n
}

// decimal is s as an int64 when s is a decimal integer without a leading
// zero that fits; quickParse declines other numbers (octal, hex, floats,
// timestamps, underscores).
func decimal(s string) int64 {
	if len(s) > 18 || (s[0] == '0' && len(s) > 1) {
		decline()
	}
	var v int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			decline()
		}
		v = v*10 + int64(c-'0')
	}
	return v
}

// flowReader reads a flow collection that ends on its line.
type flowReader struct {
	p    *quickParser
	s    string
	i    int
	line int
}

func (f *flowReader) spaces() {
	for f.i < len(f.s) && f.s[f.i] == ' ' {
		f.i++
	}
}

func (f *flowReader) peek() byte {
	f.spaces()
	if f.i >= len(f.s) {
		decline()
	}
	return f.s[f.i]
}

// end declines unless only a comment follows the collection.
func (f *flowReader) end() {
	if !onlyComment(f.s[f.i:]) {
		decline()
	}
}

func (f *flowReader) value() *node {
	switch f.peek() {
	case '{':
		return f.mapping()
	case '[':
		return f.sequence()
	}
	return f.scalar()
}

func (f *flowReader) mapping() *node {
	f.p.enter()
	defer f.p.leave()
	out, empty := f.open(mapNode, '}')
	if empty {
		return out
	}
	for {
		k := f.scalar()
		f.p.values-- // keys are not values to the converter
		key := k.text
		if _, dup := out.find(key); dup || key == "<<" || k.scalar != key {
			decline() // a key as null, true or a number: left to yaml.v3
		}
		if f.peek() != ':' || f.i+1 >= len(f.s) || f.s[f.i+1] != ' ' {
			decline()
		}
		f.i += 2
		out.add(entry{key: key, line: f.line, val: f.value()})
		if f.next('}') {
			return out
		}
	}
}

func (f *flowReader) sequence() *node {
	f.p.enter()
	defer f.p.leave()
	out, empty := f.open(listNode, ']')
	if empty {
		return out
	}
	for {
		out.items = append(out.items, f.value())
		if f.next(']') {
			return out
		}
	}
}

// open reads the bracket that opens a flow collection of kind, which close
// ends, and returns its node; empty when close follows at once.
func (f *flowReader) open(kind nodeKind, close byte) (out *node, empty bool) {
	out = f.p.collection(kind, f.line)
	f.i++
	if f.peek() == close {
		f.i++
		return out, true
	}
	return out, false
}

// next reads what follows an item of a flow collection that close ends:
// a comma before another item (false) or close (true). A trailing comma
// is left to yaml.v3.
func (f *flowReader) next(close byte) bool {
	switch f.peek() {
	case ',':
		f.i++
		if f.peek() == close {
			decline()
		}
		return false
	case close:
		f.i++
		return true
	}
	decline()
	return false
}

// scalar reads a quoted or plain scalar inside a flow collection.
func (f *flowReader) scalar() *node {
	rest := f.s[f.i:]
	if rest[0] == '"' || rest[0] == '\'' {
		v, n, ok := quoted(rest)
		if !ok {
			decline()
		}
		f.i += n
		f.p.value()
		return f.p.node(node{kind: scalarNode, line: f.line, scalar: v, text: v})
	}
	end := strings.IndexAny(rest, ",[]{}:#")
	if end < 0 {
		decline()
	}
	if rest[end] == '#' || (rest[end] == ':' && (end+1 >= len(rest) || rest[end+1] != ' ')) {
		decline()
	}
	v := strings.TrimRight(rest[:end], " ")
	f.i += len(v)
	return f.p.plain(v, f.line)
}
