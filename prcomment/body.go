package prcomment

import (
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/meshops/meshops/mdcut"
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
	r := mdcut.Fit(plan, budget, mdcut.Runes, mdcut.Options{})
	return head + note(o.FullPlan, r.Dropped, r.Blocks, r.Tail) + r.Kept, true
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
