package verify

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// Schema identifies the JSON rendering, for pipelines that parse it.
const Schema = "meshops.io/verify/v1alpha1"

// RenderText prints one block per finding (severity, rule, object and
// problem; the pods; the fix) and a count.
func RenderText(w io.Writer, findings []Finding) error {
	var b strings.Builder
	for _, f := range findings {
		fmt.Fprintf(&b, "%-7s  %-18s  %s: %s\n", f.Severity, f.Rule, f.Object, f.Problem)
		if len(f.Pods) > 0 {
			fmt.Fprintf(&b, "         pods: %s\n", clipList(f.Pods))
		}
		fmt.Fprintf(&b, "         fix: %s\n", f.Fix)
	}
	errs := Errors(findings)
	switch {
	case len(findings) == 0:
		b.WriteString("mesh verified: no findings\n")
	default:
		fmt.Fprintf(&b, "%d error(s), %d warning(s)\n", errs, len(findings)-errs)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// RenderJSON writes the findings with their counts.
func RenderJSON(w io.Writer, findings []Finding) error {
	if findings == nil {
		findings = []Finding{}
	}
	errs := Errors(findings)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(struct {
		Schema   string    `json:"schema"`
		Errors   int       `json:"errors"`
		Warnings int       `json:"warnings"`
		Findings []Finding `json:"findings"`
	}{Schema, errs, len(findings) - errs, findings})
}

// Summary puts the first n findings on one line (severity, rule, object,
// problem and fix each) and counts the rest: for a step's message or an
// error, where a fleet's findings would not fit.
func Summary(findings []Finding, n int) string {
	parts := make([]string, 0, min(n, len(findings))+1)
	for i, f := range findings {
		if i == n {
			parts = append(parts, fmt.Sprintf("and %d more", len(findings)-n))
			break
		}
		parts = append(parts, fmt.Sprintf("%s %s %s: %s (fix: %s)", f.Severity, f.Rule, f.Object, f.Problem, f.Fix))
	}
	return strings.Join(parts, "; ")
}
