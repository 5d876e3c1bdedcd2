package plan

import (
	"bytes"
	"strings"
	"testing"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/extension"
	"github.com/yuin/goldmark/renderer/html"
)

// The Markdown plan is valid CommonMark (with GitHub's tables): parsed by a
// real CommonMark parser, every <details> closes, every diff stays inside
// its own fenced block, and no step text leaks into a code block.
func TestMarkdownPlanParsesAsCommonMarkWithBalancedDetailsAndDiffBlocks(t *testing.T) {
	p := aroHCPUpgradePlan(t)
	var md bytes.Buffer
	if err := RenderMarkdown(&md, p, MarkdownOptions{MaxBytes: 1 << 20}); err != nil {
		t.Fatal(err)
	}
	doc := commonMarkHTML(t, md.Bytes())
	diffs := 0
	for _, s := range p.Steps {
		if s.Diff != "" {
			diffs++
		}
	}
	if got := strings.Count(doc, `<code class="language-diff">`); got != diffs {
		t.Errorf("%d diff code blocks rendered, want %d (a fence was not closed or opened)", got, diffs)
	}
	if !strings.Contains(doc, "<table>") {
		t.Error("the summary table did not render as a table")
	}
	// Each restart step is list text, outside any code block.
	for _, s := range p.Steps {
		if s.Phase == PhaseRestarts && !strings.Contains(doc, "<strong>restart</strong> <code>"+s.Target.String()+"</code>") {
			t.Errorf("restart of %s not rendered as a list item", s.Target)
		}
	}
}

// commonMarkHTML renders Markdown as GitHub does (CommonMark with tables,
// raw HTML kept) and fails the test unless every <details> it opens closes.
func commonMarkHTML(t *testing.T, md []byte) string {
	t.Helper()
	var out bytes.Buffer
	gm := goldmark.New(goldmark.WithExtensions(extension.Table), goldmark.WithRendererOptions(html.WithUnsafe()))
	if err := gm.Convert(md, &out); err != nil {
		t.Fatal(err)
	}
	doc := out.String()
	open, closed := strings.Count(doc, "<details>"), strings.Count(doc, "</details>")
	if open != closed || open == 0 {
		t.Errorf("<details> %d opened, %d closed", open, closed)
	}
	return doc
}
