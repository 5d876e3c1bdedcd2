package configs

import (
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/intstr"
)

// fieldReader reads typed fields out of a tree, turning every wrong type
// into a Problem at the field's line, so a file with five mistakes yields
// five problems in one run.
type fieldReader struct {
	file  string
	probs Problems
}

func (r *fieldReader) wrongType(n *node, field, want, fix string) {
	r.probs.add(r.file, n.line, field, fix, "expected %s, got %s", want, n.describe())
}

// mapping checks that n is a mapping whose keys are all in known, and
// reports any other key (a typo would otherwise be silently ignored).
func (r *fieldReader) mapping(n *node, field string, known ...string) bool {
	if n.isNull() {
		return false
	}
	if n.kind != mapNode {
		r.wrongType(n, field, "a mapping", "write "+field+" as key: value pairs")
		return false
	}
	for _, e := range n.entries {
		if !slices.Contains(known, e.key) {
			r.probs.add(r.file, e.line, joinPath(field, e.key), "remove it or use one of: "+strings.Join(known, ", "),
				"unknown field %q", e.key)
		}
	}
	return true
}

// str reads a string. Numbers and booleans are refused rather than
// converted: `tag: true` is surely a mistake. Fields where a bare number is
// natural (stamp: 1) use strOrNumber.
func (r *fieldReader) str(n *node, field string, dst *string) {
	if n == nil {
		return
	}
	switch v := n.scalar.(type) {
	case string:
		if n.kind == scalarNode {
			*dst = v
			return
		}
	case nil:
		if n.kind == scalarNode {
			return
		}
	}
	r.wrongType(n, field, "a string", "quote the value: "+field+": \"...\"")
}

// strOrNumber reads a string, accepting a number written without quotes
// (stamp: 1).
func (r *fieldReader) strOrNumber(n *node, field string, dst *string) {
	if n != nil && n.kind == scalarNode {
		switch n.scalar.(type) {
		case int64, float64:
			*dst = n.text
			return
		}
	}
	r.str(n, field, dst)
}

func (r *fieldReader) boolean(n *node, field string, dst *bool) {
	if n.isNull() {
		return
	}
	if v, ok := n.scalar.(bool); ok && n.kind == scalarNode {
		*dst = v
		return
	}
	r.wrongType(n, field, "true or false", "write "+field+": true or "+field+": false")
}

func (r *fieldReader) integer(n *node, field string, dst *int) {
	if n.isNull() {
		return
	}
	if v, ok := n.scalar.(int64); ok && n.kind == scalarNode && v >= -1<<31 && v < 1<<31 {
		*dst = int(v)
		return
	}
	r.wrongType(n, field, "a whole number", "write "+field+" as a number, e.g. "+field+": 2")
}

// intOrPercent reads a whole number or a string (a percentage such as
// "25%", checked later with the settings), as Kubernetes writes
// maxUnavailable.
func (r *fieldReader) intOrPercent(n *node, field string, dst *intstr.IntOrString) {
	if n.isNull() {
		return
	}
	if n.kind == scalarNode {
		switch v := n.scalar.(type) {
		case int64:
			if v >= -1<<31 && v < 1<<31 {
				*dst = intstr.FromInt32(int32(v))
				return
			}
		case string:
			*dst = intstr.FromString(v)
			return
		}
	}
	r.wrongType(n, field, "a number or a percentage", "write "+field+" as a number of pods (10) or a percentage (\"25%\")")
}

func (r *fieldReader) duration(n *node, field string, dst *time.Duration) {
	if n.isNull() {
		return
	}
	if s, ok := n.scalar.(string); ok && n.kind == scalarNode {
		d, err := time.ParseDuration(s)
		if err == nil {
			*dst = d
			return
		}
		r.probs.add(r.file, n.line, field, "write a Go duration such as 90s, 5m or 1h30m",
			"expected a duration, got %q: %v", s, err)
		return
	}
	r.wrongType(n, field, "a duration such as 5m", "write a Go duration such as 90s, 5m or 1h30m")
}

// stringList reads a list of strings and returns their lines too.
func (r *fieldReader) stringList(n *node, field string) ([]string, []int) {
	if n.isNull() {
		return nil, nil
	}
	if n.kind != listNode {
		r.wrongType(n, field, "a list of strings", "write "+field+" as a YAML list: [a, b]")
		return nil, nil
	}
	var out []string
	var lines []int
	for i, it := range n.items {
		var s string
		before := len(r.probs)
		r.str(it, indexPath(field, i), &s)
		if len(r.probs) == before {
			out = append(out, s)
			lines = append(lines, it.line)
		}
	}
	return out, lines
}
