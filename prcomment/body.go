// Package prcomment keeps one comment per pull request and key (a
// cluster) on GitHub up to date with a Markdown plan: created on the first
// push, edited in place on every push after, so the review thread carries
// one current plan per cluster instead of a pile of stale ones.
package prcomment

import (
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/meshops/meshops/redact"
)

// MaxBodyChars is GitHub's limit on a comment body, in characters.
const MaxBodyChars = 65536

// DefaultFullPlan says where the whole plan is when a comment had to be
// cut and BodyOptions.FullPlan is empty.
const DefaultFullPlan = "the plan artifact of the CI run that posted this comment"

// Marker is the hidden first line that finds meshops' comment for key on a
// pull request. Each key (a cluster's name) gets a comment of its own, so
// two clusters planning the same pull request do not overwrite each other.
func Marker(key string) string {
	if key == "" {
		return "<!-- meshops:plan -->"
	}
	return "<!-- meshops:plan key=" + key + " -->"
}

var keyPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._/:-]*$`)

// ValidKey reports whether key can sit in the marker: letters, digits and
// . _ / : -, and never "--", which would end the HTML comment.
func ValidKey(key string) error {
	if key == "" {
		return nil
	}
	if !keyPattern.MatchString(key) || strings.Contains(key, "--") || len(key) > 100 {
		return fmt.Errorf("key %q: use up to 100 letters, digits and . _ / : - (no \"--\"), e.g. the cluster's name", key)
	}
	return nil
}

// BodyOptions shape a comment.
type BodyOptions struct {
	// Key names the comment's cluster; see Marker. Default "" (one comment
	// per pull request).
	Key string
	// MaxChars bounds the body. Default MaxBodyChars.
	MaxChars int
	// FullPlan is where the whole plan is when the comment had to be cut:
	// a URL (linked) or words. Default DefaultFullPlan.
	FullPlan string
}

// Body builds the comment for a Markdown plan: the marker, the cluster's
// name, and the plan. A plan longer than MaxChars is cut to fit, keeping
// its summary: diffs (fenced code blocks) go first, last first; then, if
// still too long, the sections at its end. A note at the top says what was
// left out and where the whole plan is; <details> and code fences stay
// balanced. Secrets are masked (redact.Text). cut reports whether anything was left out.
func Body(plan string, o BodyOptions) (body string, cut bool) {
	if o.MaxChars <= 0 {
		o.MaxChars = MaxBodyChars
	}
	if o.FullPlan == "" {
		o.FullPlan = DefaultFullPlan
	}
	head := Marker(o.Key) + "\n"
	if o.Key != "" {
		head += "Cluster `" + o.Key + "`\n\n"
	}
	// The plan file may come from anywhere (another meshops version, a
	// hand edit in CI): what a PR comment shows passes the one masking
	// rule here, whatever rendered it.
	plan = strings.TrimRight(redact.Text(plan), "\n") + "\n"
	if chars(head)+chars(plan) <= o.MaxChars {
		return head + plan, false
	}
	// The note's numbers are not known before the cut; reserve room for
	// the longest note the counts could give.
	budget := o.MaxChars - chars(head) - chars(note(o.FullPlan, 1<<20, 1<<20, true))
	kept, dropped, diffs, tail := fit(plan, budget)
	return head + note(o.FullPlan, dropped, diffs, tail) + kept, true
}

func note(fullPlan string, dropped, all int, tail bool) string {
	if strings.HasPrefix(fullPlan, "https://") || strings.HasPrefix(fullPlan, "http://") {
		fullPlan = "[the plan artifact](" + fullPlan + ")"
	}
	var parts []string
	if dropped > 0 {
		parts = append(parts, fmt.Sprintf("%d of %d diffs", dropped, all))
	}
	if tail {
		parts = append(parts, "the end of the plan")
	}
	return fmt.Sprintf("> **Note:** this plan is longer than a GitHub comment allows, so %s %s left out here. The whole plan is in %s.\n\n",
		strings.Join(parts, " and "), map[bool]string{true: "are", false: "is"}[len(parts) > 1 || dropped > 1], fullPlan)
}

func chars(s string) int { return utf8.RuneCountInString(s) }

// fit cuts md to at most budget characters: it drops fenced blocks from
// the end first, then cuts after the last top-level block that fits, and
// only as a last resort inside a block (closing what it leaves open).
func fit(md string, budget int) (kept string, dropped, diffs int, tail bool) {
	lines := strings.SplitAfter(md, "\n")
	fences := fencedBlocks(lines)
	drop := make([]bool, len(lines))
	size := chars(md)
	for i := len(fences) - 1; i >= 0 && size > budget; i-- {
		f := fences[i]
		// The blank line before a fence belongs to it.
		if f.start > 0 && strings.TrimSpace(lines[f.start-1]) == "" && !drop[f.start-1] {
			f.start--
		}
		for j := f.start; j <= f.end; j++ {
			drop[j] = true
			size -= chars(lines[j])
		}
		dropped++
	}
	if size <= budget {
		return join(lines, drop), dropped, len(fences), false
	}
	// Still too long without any diff: keep whole top-level blocks, or as
	// many lines as fit with room to close what they leave open.
	var b strings.Builder
	var s scanner
	boundary, used := 0, 0
	for i, l := range lines {
		if drop[i] {
			continue
		}
		next := s
		next.feed(l)
		if used+chars(l)+chars(next.closers()) > budget {
			if b.Len() == 0 {
				// One line longer than a comment: keep its start.
				r := []rune(l)
				b.WriteString(string(r[:max(budget-chars(next.closers())-1, 0)]) + "\n")
			}
			break
		}
		s = next
		b.WriteString(l)
		used += chars(l)
		if s.depth == 0 && !s.inFence && strings.TrimSpace(l) == "" {
			boundary = b.Len()
		}
	}
	if boundary > 0 {
		return b.String()[:boundary], dropped, len(fences), true
	}
	return b.String() + s.closers(), dropped, len(fences), true
}

func join(lines []string, drop []bool) string {
	var b strings.Builder
	for i, l := range lines {
		if !drop[i] {
			b.WriteString(l)
		}
	}
	return b.String()
}

type span struct{ start, end int }

// fencedBlocks finds the fenced code blocks: the line indexes of their
// opening and closing fences.
func fencedBlocks(lines []string) []span {
	var out []span
	open := -1
	for i, l := range lines {
		if !isFence(l) {
			continue
		}
		if open < 0 {
			open = i
		} else {
			out = append(out, span{open, i})
			open = -1
		}
	}
	return out
}

func isFence(line string) bool {
	return strings.HasPrefix(strings.TrimLeft(line, " "), "```")
}

// scanner follows what is open at the end of the Markdown fed to it.
type scanner struct {
	depth   int // <details> open
	inFence bool
}

func (s *scanner) feed(text string) {
	for _, l := range strings.SplitAfter(text, "\n") {
		switch {
		case isFence(l):
			s.inFence = !s.inFence
		case s.inFence:
		default:
			s.depth += strings.Count(l, "<details>") + strings.Count(l, "<details ") - strings.Count(l, "</details>")
		}
	}
}

// closers closes an open code fence and every open <details>.
func (s *scanner) closers() string {
	var b strings.Builder
	b.WriteString("\n")
	if s.inFence {
		b.WriteString("```\n")
	}
	for range max(s.depth, 0) {
		b.WriteString("\n</details>\n")
	}
	return b.String()
}
