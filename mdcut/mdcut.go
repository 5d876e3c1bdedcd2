package mdcut

import (
	"strings"
	"unicode/utf8"
)

// Options shape a cut.
type Options struct {
	// AllBlocks drops every fenced block once one has to go, so that a
	// reader sees all diffs or none.
	AllBlocks bool
}

// Result is a cut document and what was left out.
type Result struct {
	Kept string
	// Dropped of Blocks fenced blocks were left out.
	Dropped, Blocks int
	// Tail: the end of the document was cut too.
	Tail bool
}

// Bytes measures in bytes.
func Bytes(s string) int { return len(s) }

// Runes measures in characters, as GitHub's comment limit counts.
func Runes(s string) int { return utf8.RuneCountInString(s) }

// Fit cuts md to at most budget, as measure counts: it drops fenced
// blocks from the end first (every one of them with AllBlocks), then cuts
// after the last top-level block that fits, and only as a last resort
// inside a block (closing what it leaves open).
func Fit(md string, budget int, measure func(string) int, o Options) Result {
	chars := measure
	lines := strings.SplitAfter(md, "\n")
	fences := fencedBlocks(lines)
	drop := make([]bool, len(lines))
	size := chars(md)
	dropped := 0
	// Blocks go until the rest fits, or all of them with AllBlocks.
	keepBlocksUntil := budget
	if size > budget && o.AllBlocks {
		keepBlocksUntil = -1
	}
	for i := len(fences) - 1; i >= 0 && size > keepBlocksUntil; i-- {
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
		return Result{Kept: join(lines, drop), Dropped: dropped, Blocks: len(fences)}
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
		return Result{Kept: b.String()[:boundary], Dropped: dropped, Blocks: len(fences), Tail: true}
	}
	return Result{Kept: b.String() + s.closers(), Dropped: dropped, Blocks: len(fences), Tail: true}
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
