package plan

import (
	"fmt"
	"io"
	"strings"

	"github.com/meshops/meshops/mdcut"
	"github.com/meshops/meshops/redact"
)

// DefaultMarkdownMaxBytes is MarkdownOptions.MaxBytes when unset: under
// GitHub's 65,536-character comment limit, with room for the marker and
// heading meshops comment adds.
const DefaultMarkdownMaxBytes = 60000

// MarkdownOptions shape the pull-request rendering.
type MarkdownOptions struct {
	// MaxBytes bounds the document; diffs are dropped, last first, with a
	// note when it would be longer. GitHub's comment limit is 65,536
	// characters. Default 60,000, leaving room for the comment's marker.
	MaxBytes int
	// FullPlanHint tells readers where the whole plan is when it was cut
	// (e.g. "the plan artifact of this CI run").
	FullPlanHint string
}

// RenderMarkdown writes the plan for a pull request: the scenario (blocked
// first and loud), a table of changes per phase, each phase's steps in a
// collapsible section with diffs in ```diff blocks, and warnings.
func RenderMarkdown(w io.Writer, p *Plan, o MarkdownOptions) error {
	if o.MaxBytes == 0 {
		o.MaxBytes = DefaultMarkdownMaxBytes
	}
	doc := markdown(p)
	if len(doc) > o.MaxBytes {
		hint := "run `meshops plan` locally"
		if o.FullPlanHint != "" {
			hint = o.FullPlanHint
		}
		note := fmt.Sprintf("> **Note:** the diffs were left out because the plan is longer than a comment allows; see %s for the full plan.\n\n", hint)
		doc = note + mdcut.Fit(doc, o.MaxBytes-len(note), mdcut.Bytes, mdcut.Options{AllBlocks: true}).Kept
	}
	_, err := io.WriteString(w, redact.Text(doc))
	return err
}

func markdown(p *Plan) string {
	var b strings.Builder
	if p.Blocked {
		fmt.Fprintf(&b, "### :no_entry: Blocked: %s\n\n%s\n\n", p.Scenario, escape(p.Reason))
	} else {
		fmt.Fprintf(&b, "### meshops plan: %s\n\n%s\n\n", p.Scenario, escape(p.Reason))
	}
	fmt.Fprintf(&b, "Tag `%s` → target `%s`", p.Tag, p.Target)
	if p.Commit != "" {
		fmt.Fprintf(&b, ", planned from commit `%s`", p.Commit)
		if p.Uncommitted {
			b.WriteString(" + uncommitted changes")
		}
	}
	b.WriteString(".\n\n")

	b.WriteString("| phase | steps | changes |\n|---|---:|---:|\n")
	for _, ph := range Phases {
		steps, changes := 0, 0
		for _, s := range p.Steps {
			if s.Phase == ph {
				steps++
				if s.Changes() {
					changes++
				}
			}
		}
		if steps > 0 {
			fmt.Fprintf(&b, "| %s | %d | %d |\n", ph, steps, changes)
		}
	}
	b.WriteString("\n")

	if restarts := stepsOf(p, PhaseRestarts); len(restarts) > 0 {
		b.WriteString("**Workloads that restart**, in order:\n\n")
		for _, s := range restarts {
			fmt.Fprintf(&b, "- `%s`\n", s.Target)
		}
		b.WriteString("\n")
	}
	if len(p.Warnings) > 0 {
		b.WriteString("**Warnings**\n\n")
		for _, wn := range p.Warnings {
			fmt.Fprintf(&b, "- %s\n", escape(wn))
		}
		b.WriteString("\n")
	}
	b.WriteString(configChangesMarkdown(p.ConfigChanges))
	for _, ph := range Phases {
		steps := stepsOf(p, ph)
		if len(steps) == 0 {
			continue
		}
		fmt.Fprintf(&b, "<details><summary>%s (%d)</summary>\n\n", ph, len(steps))
		for _, s := range steps {
			fmt.Fprintf(&b, "- **%s** `%s`: %s", s.Action, s.Target, escape(s.Reason))
			if s.Source != "" {
				fmt.Fprintf(&b, " (`%s`)", s.Source)
			}
			b.WriteString("\n")
			if s.Diff != "" {
				b.WriteString(diffBlock(s.Diff))
			}
		}
		b.WriteString("\n</details>\n\n")
	}
	if p.Pending() {
		b.WriteString("Merging applies these changes.\n")
	} else if !p.Blocked {
		b.WriteString("Nothing to do: the cluster matches this commit.\n")
	}
	return b.String()
}

func stepsOf(p *Plan, ph Phase) []Step {
	var out []Step
	for _, s := range p.Steps {
		if s.Phase == ph {
			out = append(out, s)
		}
	}
	return out
}

// escape keeps reasons from opening HTML or breaking a table.
func escape(s string) string {
	return strings.NewReplacer("<", "&lt;", ">", "&gt;", "|", "\\|").Replace(s)
}

func indent(s, prefix string) string {
	lines := strings.SplitAfter(s, "\n")
	for i, l := range lines {
		if l != "" {
			lines[i] = prefix + l
		}
	}
	return strings.Join(lines, "")
}
