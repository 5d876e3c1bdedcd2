package plan

import (
	"fmt"
	"strings"
)

// configChangesMarkdown renders what a pull request changes in the config:
// the svc.istio values and meshops.yaml fields that moved in a table, the
// other values and the manifests, with their diffs, in collapsible
// sections.
func configChangesMarkdown(c *ConfigChanges) string {
	if c == nil {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "#### Changes to the config against %s", codeSpan(c.Base))
	if c.BaseCommit != "" {
		fmt.Fprintf(&b, " (%s)", codeSpan(c.BaseCommit))
	}
	b.WriteString("\n\n")
	if c.Empty() {
		b.WriteString("None: the values, the settings and the manifests are as in the base.\n\n")
		return b.String()
	}
	var main, other []ValueChange
	for _, v := range c.Values {
		if istioValue(v.Key) {
			main = append(main, v)
		} else {
			other = append(other, v)
		}
	}
	for _, v := range c.Settings {
		v.Key = "meshops.yaml: " + v.Key
		main = append(main, v)
	}
	if len(main) > 0 {
		valuesTable(&b, main)
	}
	if len(other) > 0 {
		fmt.Fprintf(&b, "<details><summary>other values (%d)</summary>\n\n", len(other))
		valuesTable(&b, other)
		b.WriteString("</details>\n\n")
	}
	if len(c.Manifests) > 0 {
		fmt.Fprintf(&b, "<details><summary>manifests: %s</summary>\n\n", editCounts(c.Manifests))
		for _, m := range c.Manifests {
			fmt.Fprintf(&b, "- **%s** `%s` (`%s`)", m.Edit, m.ID, m.Source)
			if m.Edit == EditChanged && m.Diff == "" {
				b.WriteString(": only masked (secret) values changed")
			}
			b.WriteString("\n")
			if m.Diff != "" {
				b.WriteString(diffBlock(m.Diff))
			}
		}
		b.WriteString("\n</details>\n\n")
	}
	return b.String()
}

func valuesTable(b *strings.Builder, rows []ValueChange) {
	b.WriteString("| value | before | after |\n|---|---|---|\n")
	cell := func(s string, present bool) string {
		if !present {
			return "—"
		}
		return strings.ReplaceAll(codeSpan(s), "|", `\|`)
	}
	for _, v := range rows {
		fmt.Fprintf(b, "| %s | %s | %s |\n", cell(v.Key, true), cell(v.Before, v.Edit != EditAdded), cell(v.After, v.Edit != EditRemoved))
	}
	b.WriteString("\n")
}

func editCounts(ms []ManifestChange) string {
	n := map[ConfigEdit]int{}
	for _, m := range ms {
		n[m.Edit]++
	}
	return fmt.Sprintf("%d added, %d changed, %d removed", n[EditAdded], n[EditChanged], n[EditRemoved])
}

// codeSpan writes s as inline code whatever backticks it holds: the
// delimiter is one backtick longer than the longest run inside.
func codeSpan(s string) string {
	longest, run := 0, 0
	for _, r := range s {
		if r == '`' {
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	fence := strings.Repeat("`", longest+1)
	if strings.HasPrefix(s, "`") || strings.HasSuffix(s, "`") {
		s = " " + s + " "
	}
	return fence + s + fence
}

// diffBlock is a diff as a fenced block inside a list item.
func diffBlock(diff string) string {
	return fmt.Sprintf("\n  ```diff\n%s  ```\n", indent(diff, "  "))
}

// configChangesText lists what a pull request changes in the config for a
// terminal: one line per value or manifest (+ added, ~ changed, - removed).
func configChangesText(c *ConfigChanges) string {
	if c == nil {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "config changes against %s", c.Base)
	if c.BaseCommit != "" {
		fmt.Fprintf(&b, " (%s)", c.BaseCommit)
	}
	if c.Empty() {
		b.WriteString(": none\n\n")
		return b.String()
	}
	b.WriteString(":\n")
	mark := map[ConfigEdit]string{EditAdded: "+", EditChanged: "~", EditRemoved: "-"}
	line := func(prefix string, v ValueChange) {
		switch v.Edit {
		case EditAdded:
			fmt.Fprintf(&b, "  + %s%s: %s\n", prefix, v.Key, v.After)
		case EditRemoved:
			fmt.Fprintf(&b, "  - %s%s (was %s)\n", prefix, v.Key, v.Before)
		default:
			fmt.Fprintf(&b, "  ~ %s%s: %s → %s\n", prefix, v.Key, v.Before, v.After)
		}
	}
	for _, v := range c.Values {
		line("", v)
	}
	for _, v := range c.Settings {
		line("meshops.yaml: ", v)
	}
	for _, m := range c.Manifests {
		fmt.Fprintf(&b, "  %s %s (%s)", mark[m.Edit], m.ID, m.Source)
		if m.Edit == EditChanged && m.Diff == "" {
			b.WriteString(": only masked (secret) values changed")
		}
		b.WriteString("\n")
	}
	b.WriteString("\n")
	return b.String()
}
