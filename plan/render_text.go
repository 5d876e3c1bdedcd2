package plan

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/meshops/meshops/redact"
)

// TextOptions shape the terminal rendering.
type TextOptions struct {
	// Color adds ANSI colours; the CLI sets it when stdout is a terminal.
	Color bool
	// Diffs prints each object change's diff after the steps.
	Diffs bool
}

// RenderText writes the plan for a terminal: the scenario line first, then
// the numbered steps by phase, warnings, and the diffs.
func RenderText(w io.Writer, p *Plan, o TextOptions) error {
	paint := func(code, s string) string {
		if !o.Color {
			return s
		}
		return "\x1b[" + code + "m" + s + "\x1b[0m"
	}
	var b strings.Builder
	head := fmt.Sprintf("meshops plan: %s — %s", p.Scenario, p.Reason)
	if p.Blocked {
		head = paint("1;31", "BLOCKED ") + head
	}
	b.WriteString(paint("1", head) + "\n")
	if p.Commit != "" {
		fmt.Fprintf(&b, "commit %s, tag %s, target %s\n", p.Source(), p.Tag, p.Target)
	} else {
		fmt.Fprintf(&b, "tag %s, target %s\n", p.Tag, p.Target)
	}
	b.WriteString("\n" + configChangesText(p.ConfigChanges))
	for i, s := range p.Steps {
		action := string(s.Action)
		switch s.Action {
		case ActionCreate:
			action = paint("32", action)
		case ActionDelete:
			action = paint("31", action)
		case ActionCheck:
		default:
			action = paint("33", action)
		}
		fmt.Fprintf(&b, "%3d. %-12s %-8s %s\n      %s\n", i+1, s.Phase, action, s.Target, s.Reason)
	}
	if len(p.Warnings) > 0 {
		b.WriteString("\n" + paint("33", "warnings:") + "\n")
		for _, w := range p.Warnings {
			b.WriteString("  - " + w + "\n")
		}
	}
	if o.Diffs {
		for _, s := range p.Steps {
			if s.Diff == "" {
				continue
			}
			fmt.Fprintf(&b, "\n%s %s (%s)\n", paint("1", "diff"), s.Target, s.Source)
			for _, line := range strings.SplitAfter(s.Diff, "\n") {
				switch {
				case strings.HasPrefix(line, "+") && !strings.HasPrefix(line, "+++"):
					line = paint("32", strings.TrimSuffix(line, "\n")) + "\n"
				case strings.HasPrefix(line, "-") && !strings.HasPrefix(line, "---"):
					line = paint("31", strings.TrimSuffix(line, "\n")) + "\n"
				}
				b.WriteString(line)
			}
		}
	}
	summary := "nothing to do"
	if p.Pending() {
		n := 0
		for _, s := range p.Steps {
			if s.Changes() {
				n++
			}
		}
		summary = fmt.Sprintf("%d changes pending", n)
	}
	if p.Blocked {
		summary = "blocked: nothing will change until the gate passes"
	}
	fmt.Fprintf(&b, "\n%s\n", summary)
	_, err := io.WriteString(w, redact.Text(b.String()))
	return err
}

// JSONSchemaVersion versions RenderJSON's document; it changes only when a
// field's meaning changes or one is removed.
const JSONSchemaVersion = "meshops.io/plan/v1alpha1"

// RenderJSON writes the plan as a versioned JSON document. Like the other
// renderers it masks what redact finds in the text (a step's reason can
// quote an API server error, which quotes the value it refused); the
// marker needs no JSON escaping.
func RenderJSON(w io.Writer, p *Plan) error {
	doc := struct {
		Schema  string `json:"schema"`
		Pending bool   `json:"pending"`
		*Plan
	}{JSONSchemaVersion, p.Pending(), p}
	var buf strings.Builder
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return err
	}
	_, err := io.WriteString(w, redact.Text(buf.String()))
	return err
}
