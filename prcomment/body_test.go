package prcomment

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/extension"
	"github.com/yuin/goldmark/renderer/html"
)

// longPlan is a plan shaped like plan.RenderMarkdown's: a summary, then
// sections of steps, each with a diff of diffLines lines.
func longPlan(sections, diffLines int) string {
	var b strings.Builder
	b.WriteString("### meshops plan: upgrade\n\nmove tag prod-stable from asm-1-28 to asm-1-29\n\n| phase | steps | changes |\n|---|---:|---:|\n| policies | 40 | 40 |\n\n")
	for i := range sections {
		fmt.Fprintf(&b, "<details><summary>section %d (1)</summary>\n\n- **update** `AuthorizationPolicy/ns%d/allow`: as in git\n\n  ```diff\n", i, i)
		for j := range diffLines / sections {
			fmt.Fprintf(&b, "  +      - cluster.local/ns/ns%d/sa/workload-%d\n", i, j)
		}
		b.WriteString("  ```\n\n</details>\n\n")
	}
	b.WriteString("Merging applies these changes.\n")
	return b.String()
}

// checkMarkdown parses md as GitHub does and checks that every <details>
// closes and every code block it keeps is whole.
func checkMarkdown(t *testing.T, md string) string {
	t.Helper()
	var out bytes.Buffer
	gm := goldmark.New(goldmark.WithExtensions(extension.Table), goldmark.WithRendererOptions(html.WithUnsafe()))
	if err := gm.Convert([]byte(md), &out); err != nil {
		t.Fatal(err)
	}
	doc := out.String()
	if open, closed := strings.Count(doc, "<details>"), strings.Count(doc, "</details>"); open != closed {
		t.Errorf("<details> %d opened, %d closed", open, closed)
	}
	if strings.Count(md, "```")%2 != 0 {
		t.Error("a code fence is left open")
	}
	return doc
}

func TestBodyKeepsAShortPlanWhole(t *testing.T) {
	body, cut := Body("### meshops plan: in sync\n", BodyOptions{Key: "aro-hcp-dev"})
	want := "<!-- meshops:plan key=aro-hcp-dev -->\nCluster `aro-hcp-dev`\n\n### meshops plan: in sync\n"
	if cut || body != want {
		t.Errorf("got %q (cut %v), want %q", body, cut, want)
	}
}

// Past the limit, diffs go first, from the end; the summary and every
// section's step stay; the note says how many diffs were left out.
func TestBodyDropsDiffsLastFirstToFit(t *testing.T) {
	plan := longPlan(10, 400) // 10 diffs of 40 lines
	limit := len(plan) - 2000
	body, cut := Body(plan, BodyOptions{MaxChars: limit})
	if !cut || len([]rune(body)) > limit {
		t.Fatalf("cut %v, %d characters; want at most %d", cut, len([]rune(body)), limit)
	}
	doc := checkMarkdown(t, body)
	kept := strings.Count(doc, `<code class="language-diff">`)
	if kept == 0 || kept == 10 {
		t.Fatalf("%d of 10 diffs kept; want some dropped, not all", kept)
	}
	if !strings.Contains(body, "ns0/sa/workload-0") || strings.Contains(body, "ns9/sa/workload-0") {
		t.Error("the diffs were not dropped from the end")
	}
	if want := fmt.Sprintf("so %d of 10 diffs are left out here", 10-kept); !strings.Contains(body, want) {
		t.Errorf("note does not say %q:\n%s", want, body[:400])
	}
	for i := range 10 {
		if !strings.Contains(body, fmt.Sprintf("`AuthorizationPolicy/ns%d/allow`", i)) {
			t.Errorf("the step of section %d was dropped with its diff", i)
		}
	}
	if !strings.Contains(body, "| policies | 40 | 40 |") || !strings.Contains(body, DefaultFullPlan) {
		t.Error("the summary or the default hint is missing")
	}
}

// When even the plan without diffs is too long, whole sections go from the
// end; the tags stay balanced.
func TestBodyCutsSectionsFromTheEndWhenDiffsAreNotEnough(t *testing.T) {
	plan := longPlan(400, 400)
	body, cut := Body(plan, BodyOptions{MaxChars: 5000, FullPlan: "the meshops-plan artifact"})
	if !cut || len([]rune(body)) > 5000 {
		t.Fatalf("cut %v, %d characters", cut, len([]rune(body)))
	}
	checkMarkdown(t, body)
	if !strings.Contains(body, "so 400 of 400 diffs and the end of the plan are left out here. The whole plan is in the meshops-plan artifact.") {
		t.Errorf("note:\n%s", body[:600])
	}
	if !strings.Contains(body, "| policies | 40 | 40 |") || strings.Contains(body, "Merging applies") {
		t.Error("the summary must stay and the end go")
	}
}

// A plan that is one huge block (no blank line) is cut inside it, and
// what it leaves open is closed.
func TestBodyCutsInsideOneHugeBlockAndClosesIt(t *testing.T) {
	var b strings.Builder
	b.WriteString("<details><summary>restarts</summary>\n")
	for i := range 5000 {
		fmt.Fprintf(&b, "- restart Deployment/ns/workload-%d\n", i)
	}
	b.WriteString("</details>\n")
	body, cut := Body(b.String(), BodyOptions{MaxChars: 3000})
	if !cut || len([]rune(body)) > 3000 {
		t.Fatalf("cut %v, %d characters", cut, len([]rune(body)))
	}
	checkMarkdown(t, body)
	if !strings.HasSuffix(body, "</details>\n") {
		t.Errorf("open <details> not closed:\n%s", body[len(body)-200:])
	}
}

func TestValidKey(t *testing.T) {
	for key, ok := range map[string]bool{
		"":                       true,
		"aro-hcp-dev":            true,
		"dev/westus3":            true,
		"svc.usw3:1":             true,
		"a--b":                   false,
		"-x":                     false,
		"x -->":                  false,
		"<script>":               false,
		strings.Repeat("a", 101): false,
	} {
		if err := ValidKey(key); (err == nil) != ok {
			t.Errorf("ValidKey(%q) = %v", key, err)
		}
	}
}
