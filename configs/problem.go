package configs

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"
)

// Problem is one thing wrong with the config repo, precise enough to fix
// without reading meshops' source: where (File, Line, Field), what (Message)
// and how to fix it (Fix).
type Problem struct {
	// File is the path relative to the repo root, slash-separated; empty for
	// problems with the options themselves.
	File string
	// Line is 1-based; 0 when the problem concerns the file as a whole.
	Line int
	// Field is the dotted path of the offending field inside the document,
	// e.g. "spec.rules[0].from[0].source.principals[1]"; empty when the
	// problem is not about one field.
	Field string
	// Message says what was expected and what was found.
	Message string
	// Fix says how to fix it.
	Fix string
}

// String renders the problem on one line:
//
//	mesh/fleet.yaml:12: spec.action: expected one of ALLOW, DENY, AUDIT, CUSTOM; got "MAYBE" (fix: ...)
//
// Newlines inside the parts are folded so that one problem is always one line.
func (p Problem) String() string {
	var b strings.Builder
	if p.File != "" {
		b.WriteString(p.File)
		if p.Line > 0 {
			fmt.Fprintf(&b, ":%d", p.Line)
		}
		b.WriteString(": ")
	}
	if p.Field != "" {
		b.WriteString(capLength(oneLine(p.Field)))
		b.WriteString(": ")
	}
	b.WriteString(capLength(oneLine(p.Message)))
	if p.Fix != "" {
		b.WriteString(" (fix: ")
		b.WriteString(capLength(oneLine(p.Fix)))
		b.WriteString(")")
	}
	return b.String()
}

// Error makes a single Problem usable as an error.
func (p Problem) Error() string { return p.String() }

// clipLength is how much of a value from a file a message quotes. Values
// are quoted so that the person fixing the file recognises them; more than
// this serves no one and could carry a planted secret into logs.
const clipLength = 80

// maxMessage bounds a rendered message, whatever it quotes.
const maxMessage = 512

// clip cuts a value quoted from a file to clipLength runes, on one line.
func clip(s string) string {
	s = oneLine(s)
	n := 0
	for i := range s {
		if n == clipLength {
			return s[:i] + "…"
		}
		n++
	}
	return s
}

// capLength cuts a rendered part of a problem to maxMessage bytes, on a
// rune boundary.
func capLength(s string) string {
	if len(s) <= maxMessage {
		return s
	}
	i := maxMessage
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + "…"
}

func oneLine(s string) string {
	if !strings.ContainsAny(s, "\r\n") {
		return s
	}
	return strings.Join(strings.Fields(strings.NewReplacer("\r", " ", "\n", " ").Replace(s)), " ")
}

// Problems is every problem found in one load, reported together so that a
// user fixes them in one pass rather than one per run.
type Problems []Problem

// Error lists the problems one per line, prefixed by their count when there
// is more than one.
func (ps Problems) Error() string {
	switch len(ps) {
	case 0:
		return "no problems"
	case 1:
		return ps[0].String()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d problems:", len(ps))
	for _, p := range ps {
		b.WriteString("\n")
		b.WriteString(p.String())
	}
	return b.String()
}

// Sort orders problems by file, line, field and message, so output is
// stable whatever order the checks ran in.
func (ps Problems) Sort() {
	slices.SortStableFunc(ps, func(a, b Problem) int {
		return cmp.Or(
			cmp.Compare(a.File, b.File),
			cmp.Compare(a.Line, b.Line),
			cmp.Compare(a.Field, b.Field),
			cmp.Compare(a.Message, b.Message),
		)
	})
}

// Err returns ps as an error, or nil when there are none. It exists because
// a nil Problems stored in an error interface is not a nil error.
func (ps Problems) Err() error {
	if len(ps) == 0 {
		return nil
	}
	return ps
}

// add appends a problem; a small helper so call sites stay one line.
func (ps *Problems) add(file string, line int, field, fix, format string, args ...any) {
	*ps = append(*ps, Problem{File: file, Line: line, Field: field, Message: capLength(fmt.Sprintf(format, args...)), Fix: fix})
}
